import { rm } from "node:fs/promises";

export default async function globalTeardown() {
  const state = globalThis.__ORDERMESH_INFRA__;
  if (!state) return;
  await state.infra.stop();
  await rm(state.root, { recursive: true, force: true });
}
