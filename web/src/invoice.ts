import { files } from "./api.js";

/**
 * Downloads an order's invoice through the public API (GetInvoice, then the Download server
 * stream) and hands it to the browser as a file. No separate download URL, so the token never
 * ends up in a link or a log.
 */
export async function downloadInvoice(orderId: string, signal?: AbortSignal): Promise<string> {
  const { file } = await files.getInvoice({ orderId }, { signal });
  if (!file) throw new Error("the invoice has no file");
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  for await (const message of files.download({ fileId: file.id }, { signal })) {
    if (message.data.case === "chunk") chunks.push(new Uint8Array(message.data.value));
  }
  const blob = new Blob(chunks, { type: file.contentType || "application/pdf" });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = file.fileName || `invoice-${orderId}.pdf`;
  document.body.append(link);
  link.click();
  link.remove();
  // The browser has taken the file once the click is handled; give it a moment on slow machines.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return link.download;
}
