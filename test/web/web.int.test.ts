/**
 * The web app in Debian's Chromium against the gateway in front of the seven real services
 * (dev/mesh.ts on the test infrastructure's Postgres, NATS and S3), as people use it: a customer
 * shops, follows an order live over WatchOrder and downloads the invoice; another customer
 * cannot open it; an admin replenishes stock and works the dead-letter queue; a customer reads
 * their order's timeline of events; an admin reads the dashboard and makes payments fail with a
 * fault flag; an upstream that is down gets a clear message (the timeline falls back to the
 * status history); a gateway with a real secret only takes pasted tokens.
 * Screenshots of the main pages go to .artifacts/screenshots/.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { headers as natsHeaders } from "@nats-io/transport-node";
import type { Page } from "playwright-core";
import { PaymentRefundedSchema } from "../../gen/shop/events/v1/payment_events_pb.js";
import { signDevToken } from "../../gateway/auth.js";
import { DEV_JWT_SECRET, readGatewayConfig } from "../../gateway/config.js";
import { type RunningGateway, start } from "../../gateway/server.js";
import { rest } from "../../gateway/testing/http.js";
import { type Mesh, startMesh } from "../../dev/mesh.js";
import { busNames, connectBus, EVENT_ID_HEADER, EVENT_TYPE_HEADER, eventSubject, type EventBus } from "../../lib/events/index.js";
import { uuidv7 } from "../../lib/ids.js";
import { createLogger } from "../../lib/log.js";
import { testInfra, uniqueId, waitFor } from "../harness/index.js";
import { type Browser, ensureWebBuild, launchBrowser, screenshot } from "./browser.js";

const logger = createLogger("web-int", { level: process.env.TEST_LOG_LEVEL ?? "silent" });
const PASTE_SECRET = "web-int-test-real-secret-0123456789abcdef";

describe("web app in Chromium", () => {
  let mesh: Mesh;
  let gateway: RunningGateway;
  let base: string;
  let call: ReturnType<typeof rest>;
  let browser: Browser;
  let bus: EventBus;
  const eventsPrefix = uniqueId("web");
  let adminToken: string;
  let alice: string;
  let bob: string;
  const productName = `Web test lamp ${uniqueId("")}`;
  let aliceOrderId: string;
  let productId: string;
  const pages: Page[] = [];

  function gatewayEnv(extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...mesh.addresses(),
      GATEWAY_PORT: "0",
      GATEWAY_HOST: "127.0.0.1",
      METRICS_PORT: "-1",
      NATS_URL: testInfra().natsUrl,
      EVENTS_PREFIX: eventsPrefix,
      RATE_LIMIT_RPS: "1000",
      RATE_LIMIT_BURST: "1000",
      ...extra,
    };
  }

  async function newPage(options?: { width?: number }): Promise<Page> {
    const page = await browser.newPage(options);
    pages.push(page);
    return page;
  }

  /** Signs in through the page's dev sign-in (the gateway mints the token). */
  async function signIn(page: Page, who: { customer: string } | "admin", url = base): Promise<void> {
    await page.goto(`${url}/`);
    await page.getByRole("heading", { name: "Development sign-in" }).waitFor();
    if (who === "admin") {
      await page.getByLabel("An admin").check();
    } else {
      await page.getByLabel("Another customer").check();
      await page.getByLabel("Customer id").fill(who.customer);
    }
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
  }

  async function ordersOf(customerId: string) {
    const answer = await call("GET", `/api/v1/orders?page_size=100&customer_id=${customerId}`, { token: adminToken });
    return (answer.json as { orders: { id: string; status: string }[] }).orders;
  }

  beforeAll(async () => {
    const infra = testInfra();
    const [, started] = await Promise.all([
      ensureWebBuild(),
      startMesh({
        ...infra,
        databasePrefix: `${uniqueId("web")}_`,
        eventsPrefix,
        readyTimeoutMs: 90_000,
        // A slow card provider: the order visibly sits in RESERVED before it turns CONFIRMED.
        serviceEnv: { payment: { PAYMENT_PROVIDER_LATENCY_MS: "1500" } },
        onLog: process.env.TEST_LOG_LEVEL === "debug" ? (service, line) => console.log(`[${service}] ${line}`) : undefined,
      }),
    ]);
    mesh = started;
    // No JWT_SECRET: the built-in dev secret, so the page offers the dev sign-in.
    gateway = await start(readGatewayConfig(gatewayEnv()), { logger });
    base = `http://127.0.0.1:${gateway.port}`;
    call = rest(base);
    bus = await connectBus({ natsUrl: infra.natsUrl, names: busNames(eventsPrefix), name: "web-int-test" });
    adminToken = await signDevToken({ sub: "admin", admin: true, secret: DEV_JWT_SECRET });
    const customer = async (name: string) => {
      const answer = await call("POST", "/api/v1/customers", { token: adminToken, json: { email: `${uniqueId(name)}@example.com`, name } });
      expect(answer.status).toBe(201);
      return (answer.json as { id: string }).id;
    };
    alice = await customer("alice");
    bob = await customer("bob");
    const product = await call("POST", "/api/v1/inventory", {
      token: adminToken,
      json: {
        sku: uniqueId("LAMP-"),
        name: productName,
        description: "A desk lamp that the browser tests buy.",
        price: { currency_code: "USD", amount_minor: 2450 },
        initial_quantity: 40,
        low_stock_threshold: 5,
      },
    });
    expect(product.status).toBe(201);
    productId = (product.json as { id: string }).id;
    browser = await launchBrowser();
  }, 240_000);

  afterAll(async () => {
    for (const page of pages) await page.close().catch(() => undefined);
    await browser?.close();
    await gateway?.stop(2_000);
    await bus?.close();
    await mesh?.stop(5_000);
  }, 60_000);

  it("serves the app with immutable assets, a no-cache index.html and a strict CSP", async () => {
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get("cache-control")).toBe("no-cache");
    expect(index.headers.get("content-security-policy")).toMatch(/script-src 'self'(;|$)/);
    const html = await index.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1];
    const js = await fetch(`${base}${asset}`);
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(js.headers.get("content-type")).toMatch(/^text\/javascript/);
  });

  it("a customer places an order once, sees it reach CONFIRMED live, and downloads the invoice", async () => {
    const page = await newPage();
    const consoleErrors: string[] = [];
    page.on("console", (message) => message.type() === "error" && consoleErrors.push(message.text()));
    await page.goto(`${base}/`);
    await page.getByRole("heading", { name: "Development sign-in" }).waitFor();
    await screenshot(page, "01-sign-in");
    await signIn(page, { customer: alice });

    await page.getByRole("heading", { name: productName }).waitFor();
    await page.getByLabel("Quantity").first().waitFor();
    await page.getByRole("button", { name: `Add ${productName} to cart` }).click();
    await page.getByText(`Added 1 × ${productName} to your cart.`).waitFor();
    await screenshot(page, "02-catalog");

    await page.getByRole("link", { name: /^Cart/ }).click();
    await page.getByLabel("Recipient name").fill("Alice Example");
    await page.getByLabel("Address line 1").fill("1 Main St");
    await page.getByLabel("City").fill("Springfield");
    await page.getByLabel("Postal code").fill("12345");
    await screenshot(page, "03-cart");

    // The first attempt reaches the gateway and creates the order, but its answer is lost.
    let lost = false;
    await page.route("**/shop.order.v1.OrderService/CreateOrder", async (route) => {
      if (lost) return route.continue();
      lost = true;
      await route.fetch();
      await route.abort("connectionreset");
    });
    await page.getByRole("button", { name: "Place order" }).click();
    await page.getByRole("alert").filter({ hasText: "The order was not placed" }).waitFor();
    // The retry (a double click, even) carries the same idempotency key: still one order.
    await page.getByRole("button", { name: "Place order" }).dblclick();
    await page.waitForURL(/#\/orders\/[0-9a-f-]{36}$/);
    aliceOrderId = decodeURIComponent(page.url().split("/").pop()!);
    const placed = await ordersOf(alice);
    expect(placed.map((o) => o.id)).toEqual([aliceOrderId]);

    // From here on the page is only watched: no reload, no polling, one WatchOrder stream.
    let documents = 0;
    let watches = 0;
    let gets = 0;
    page.on("request", (request) => {
      if (request.resourceType() === "document") documents++;
      if (request.url().endsWith("/shop.order.v1.OrderService/WatchOrder")) watches++;
      if (request.url().endsWith("/shop.order.v1.OrderService/GetOrder")) gets++;
    });
    const status = page.locator(".current-status");
    await status.filter({ hasText: /Pending|Reserved/ }).waitFor({ timeout: 30_000 });
    await page.getByText("Live: changes appear as they happen").waitFor();
    await status.filter({ hasText: "Confirmed" }).waitFor({ timeout: 60_000 });
    expect(documents).toBe(0);
    expect(gets).toBe(0);
    expect(watches).toBeLessThanOrEqual(1);
    // The timeline lists the events analytics recorded; it catches up with the order by itself.
    await page
      .locator(".timeline strong")
      .filter({ hasText: /^Order confirmed/ })
      .waitFor({ timeout: 30_000 });
    await screenshot(page, "04-order-confirmed");

    // The invoice is generated after CONFIRMED: try until it is there.
    const download = await waitFor(
      async () => {
        const [file] = await Promise.all([
          page.waitForEvent("download", { timeout: 4_000 }).catch(() => undefined),
          page.getByRole("button", { name: "Download invoice (PDF)" }).click(),
        ]);
        return file;
      },
      { timeoutMs: 60_000, message: "the invoice download" },
    );
    const path = await download.path();
    expect(readFileSync(path).subarray(0, 5).toString("latin1")).toBe("%PDF-");
    expect(download.suggestedFilename()).toMatch(/\.pdf$/);

    await page.getByRole("link", { name: "Orders", exact: true }).click();
    await page.getByRole("heading", { name: "Your orders" }).waitFor();
    await page.locator(`a[title="${aliceOrderId}"]`).waitFor();
    await screenshot(page, "05-orders");

    // The same pages at phone width.
    const phone = await newPage({ width: 390 });
    await signIn(phone, { customer: alice });
    await phone.getByRole("heading", { name: productName }).waitFor();
    await screenshot(phone, "06-phone-catalog");
    await phone.goto(`${base}/#/orders/${aliceOrderId}`);
    await phone.locator(".current-status").filter({ hasText: "Confirmed" }).waitFor();
    await phone
      .locator(".timeline strong")
      .filter({ hasText: /^Order confirmed/ })
      .waitFor();
    await screenshot(phone, "07-phone-order");
    const overflow = await phone.evaluate<number>("document.documentElement.scrollWidth - document.documentElement.clientWidth");
    expect(overflow).toBeLessThanOrEqual(0);
    expect(consoleErrors.filter((text) => !/Failed to load resource|ERR_CONNECTION_RESET/.test(text))).toEqual([]);
  }, 180_000);

  it("a customer cannot see another customer's order", async () => {
    expect(aliceOrderId).toBeDefined();
    const page = await newPage();
    await signIn(page, { customer: bob });
    await page.goto(`${base}/#/orders/${aliceOrderId}`);
    await page.getByText(/There is no order/).waitFor();
    expect(await page.locator(".current-status").count()).toBe(0);
    expect(await page.getByText("Alice Example").count()).toBe(0);
    await page.getByRole("link", { name: "Orders", exact: true }).click();
    await page.getByText("No orders yet.").waitFor();
    expect(await page.locator(`a[title="${aliceOrderId}"]`).count()).toBe(0);
    await screenshot(page, "08-other-customer");

    // Keyboard only: the skip link comes first, and a product goes into the cart with Tab and Enter.
    await page.goto(`${base}/#/`);
    await page.reload();
    await page.getByRole("heading", { name: productName }).waitFor();
    await page.keyboard.press("Tab");
    expect(await page.evaluate<string>("document.activeElement.textContent")).toBe("Skip to content");
    await page.getByLabel("Quantity").first().focus();
    await page.keyboard.press("Control+A");
    await page.keyboard.type("2");
    await page.keyboard.press("Tab");
    expect(await page.evaluate<string>("document.activeElement.getAttribute('aria-label')")).toBe(`Add ${productName} to cart`);
    await page.keyboard.press("Enter");
    await page.getByText(`Added 2 × ${productName} to your cart.`).waitFor();

    // Bob orders, then changes his mind: the cancellation shows up live.
    await page.getByRole("link", { name: /^Cart/ }).click();
    await page.getByLabel("Recipient name").fill("Bob Example");
    await page.getByLabel("Address line 1").fill("2 Side St");
    await page.getByLabel("City").fill("Shelbyville");
    await page.getByLabel("Postal code").fill("54321");
    await page.getByRole("button", { name: "Place order" }).click();
    await page.waitForURL(/#\/orders\/[0-9a-f-]{36}$/);
    await page.locator(".current-status").waitFor();
    await page.getByRole("button", { name: "Cancel order" }).click();
    await page.getByLabel("Reason").fill("changed my mind");
    await page.getByRole("button", { name: "Yes, cancel the order" }).click();
    await page.locator(".current-status").filter({ hasText: "Cancelled" }).waitFor({ timeout: 30_000 });
    await page.getByText("Final: this order will not change any more").waitFor({ timeout: 30_000 });
    await screenshot(page, "08b-cancelled");
  }, 60_000);

  it("an admin replenishes stock and replays a dead letter", async () => {
    const page = await newPage();
    await signIn(page, "admin");
    await page.getByRole("heading", { name: "Products" }).waitFor();
    // A new product, priced as people type prices.
    const newName = `Web test mug ${uniqueId("")}`;
    await page.getByRole("button", { name: "New product" }).click();
    await page.getByLabel("SKU").fill(uniqueId("MUG-"));
    await page.getByLabel("Name").fill(newName);
    await page.getByLabel("Price", { exact: true }).fill("9.99");
    await page.getByLabel("Initial quantity").fill("3");
    await page.getByRole("button", { name: "Create product" }).click();
    await page.getByRole("heading", { name: newName, level: 1 }).waitFor();
    await page.locator(".facts").getByText("9.99 USD").waitFor();
    await page.getByRole("link", { name: "All products" }).click();
    await page.getByRole("link", { name: productName }).click();
    const available = page.getByTestId("available");
    await available.waitFor();
    const before = Number(await available.textContent());
    await page.getByLabel("Quantity to add").fill("25");
    await page.locator("#replenish-reason").fill("PO-web-test");
    await page.getByRole("button", { name: "Replenish", exact: true }).click();
    await page.getByText(`Added 25. Now ${before + 25} available.`).waitFor();
    expect(Number(await available.textContent())).toBe(before + 25);
    await page.getByRole("cell", { name: "PO-web-test" }).waitFor();
    await screenshot(page, "09-admin-product");

    // An event nobody can decode: the order service's consumer dead-letters it (analytics, which
    // takes every event, does too; this test follows the order service's copy).
    const eventId = uuidv7();
    const h = natsHeaders();
    h.set(EVENT_ID_HEADER, eventId);
    h.set(EVENT_TYPE_HEADER, PaymentRefundedSchema.typeName);
    await bus.js.publish(eventSubject(bus.names, PaymentRefundedSchema), new Uint8Array([0xff, 0xff, 0xff, 0xff]), { msgID: eventId, headers: h });
    const deadLetter = async () => {
      const list = await call("GET", "/api/v1/admin/dlq?limit=500", { token: adminToken });
      return (list.json as { entries: { seq: number; event_id: string; consumer: string }[] }).entries.filter(
        (e) => e.event_id === eventId && e.consumer === "order-payment-refunded",
      );
    };
    const [first] = await waitFor(async () => (await deadLetter()).length > 0 && deadLetter(), { timeoutMs: 30_000, message: "the dead letter" });

    await page.getByRole("link", { name: "Dead letters" }).click();
    const card = page.locator(`[data-seq="${first.seq}"]`);
    await card.waitFor();
    await card.getByRole("button", { name: `Inspect #${first.seq}` }).click();
    await card.getByText(eventId, { exact: true }).waitFor();
    await card.getByText(/Cannot decode/).waitFor();
    await screenshot(page, "10-admin-dlq");
    await card.getByRole("button", { name: `Replay #${first.seq}` }).click();
    await page.getByText(`Dead letter #${first.seq} was replayed`).waitFor();
    await card.waitFor({ state: "detached" });
    expect((await deadLetter()).some((e) => e.seq === first.seq)).toBe(false);

    // Replayed, it fails again (it is still undecodable): this time it is discarded.
    const [again] = await waitFor(async () => (await deadLetter()).length > 0 && deadLetter(), {
      timeoutMs: 30_000,
      message: "the replayed event to fail again",
    });
    await page.getByRole("button", { name: "Refresh" }).click();
    const second = page.locator(`[data-seq="${again.seq}"]`);
    await second.getByRole("button", { name: `Inspect #${again.seq}` }).click();
    await second.getByRole("button", { name: "Discard…" }).click();
    await second.getByRole("button", { name: `Yes, discard #${again.seq} for good` }).click();
    await page.getByText(`Dead letter #${again.seq} was discarded.`).waitFor();
    expect(await deadLetter()).toEqual([]);

    // The other admin pages show the order of the first test.
    for (const [link, heading] of [
      ["Deliveries", "Deliveries"],
      ["Payments", "Payments"],
      ["Notifications", "Notifications"],
    ]) {
      await page.getByRole("link", { name: link, exact: true }).click();
      await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
      if (link !== "Notifications") await page.locator(`a[title="${aliceOrderId}"]`).first().waitFor();
      expect(await page.getByRole("alert").count()).toBe(0);
      await screenshot(page, `11-admin-${link.toLowerCase()}`);
    }

    // The admin ships the order; the saga turns it SHIPPED.
    await page.getByRole("link", { name: "Deliveries", exact: true }).click();
    await page.getByRole("button", { name: `Update delivery of order ${aliceOrderId}` }).click();
    await page.getByLabel("New status").selectOption({ label: "In transit" });
    await page.getByLabel("Carrier").fill("ACME Parcel");
    await page.getByLabel("Tracking number").fill("TRK-WEB-1");
    await page.getByRole("button", { name: "Update delivery", exact: true }).click();
    await page.getByRole("cell", { name: /ACME Parcel/ }).waitFor();
    await waitFor(async () => (await ordersOf(alice)).find((o) => o.id === aliceOrderId)?.status === "ORDER_STATUS_SHIPPED", {
      timeoutMs: 30_000,
      message: "the order to be SHIPPED",
    });
  }, 120_000);

  it("a customer reads their order's timeline of events; another customer cannot", async () => {
    expect(aliceOrderId).toBeDefined();
    const page = await newPage();
    await signIn(page, { customer: alice });
    await page.goto(`${base}/#/orders/${aliceOrderId}`);
    const timeline = page.locator('.timeline[data-kind="events"]');
    // Shipped by the admin test: analytics has every step up to there.
    for (const step of [/^Order placed/, /^Stock reserved/, /^Payment captured/, /^Order confirmed/, /^Invoice generated/, /^Order shipped/]) {
      await timeline.locator("strong").filter({ hasText: step }).waitFor({ timeout: 30_000 });
    }
    await timeline.getByText("payment.completed").waitFor();
    expect(await page.locator(".timeline-note").count()).toBe(0);
    await screenshot(page, "14-order-timeline");
    // The gateway asks the order service who owns the order: Bob's call is NOT_FOUND.
    const bobToken = await signDevToken({ sub: bob, secret: DEV_JWT_SECRET });
    const forBob = await call("POST", "/shop.analytics.v1.AnalyticsService/GetOrderTimeline", { token: bobToken, json: { orderId: aliceOrderId } });
    expect(forBob.status).toBe(404);
    expect(forBob.json).toMatchObject({ code: "not_found" });
  }, 60_000);

  it("an admin sees the dashboard's charts with the orders placed", async () => {
    // Analytics counts the orders of the tests above (Alice's confirmed, Bob's cancelled).
    type Dash = { funnel?: { created?: string; paid?: string } };
    await waitFor(
      async () => {
        const answer = await call("GET", "/api/v1/analytics/dashboard?window=1h", { token: adminToken });
        const funnel = (answer.json as Dash).funnel;
        return Number(funnel?.created ?? 0) >= 2 && Number(funnel?.paid ?? 0) >= 1;
      },
      { timeoutMs: 30_000, message: "the dashboard to count the orders" },
    );
    const page = await newPage();
    await signIn(page, "admin");
    await page.getByRole("link", { name: "Dashboard", exact: true }).click();
    await page.getByRole("heading", { name: "Dashboard", level: 1 }).waitFor();
    const funnel = page.getByRole("img", { name: /^Of \d+ orders placed, \d+ were reserved, [1-9]\d* paid/ });
    await funnel.waitFor();
    await page.getByRole("img", { name: /^Orders per minute from .*: [2-9]\d* placed, [1-9]\d* confirmed/ }).waitFor();
    await page.getByRole("img", { name: /^Orders by status: .*Shipped 1/ }).waitFor();
    await page.getByRole("img", { name: /^USD: captured \d[\d,]*\.\d\d USD/ }).waitFor();
    await page.getByRole("img", { name: /orders confirmed: median/ }).waitFor();
    await page.getByRole("img", { name: new RegExp(`^Top products: ${productName}`) }).waitFor();
    // The lines are drawn: a polyline per series with points across the plot.
    const points = await page.locator(".chart polyline").first().getAttribute("points");
    expect(points?.split(" ").length).toBe(60);
    // The numbers behind a chart, for people who cannot see it.
    const funnelCard = page.getByRole("region", { name: "Funnel" });
    await funnelCard.getByText("Show as table").click();
    await funnelCard.getByRole("row", { name: /^Paid [1-9]/ }).waitFor();
    expect(await page.getByRole("alert").count()).toBe(0);
    await screenshot(page, "15-admin-dashboard");

    // Another window, chosen with the keyboard: the 24 h window has a point per 12 minutes.
    await page.getByLabel("1 hour").focus();
    await page.keyboard.press("ArrowRight");
    expect(await page.getByLabel("24 hours").isChecked()).toBe(true);
    await page.getByRole("heading", { name: "Orders per 12 minutes" }).waitFor();
    await funnel.waitFor();

    // At phone width the charts fit the screen.
    const phone = await newPage({ width: 375 });
    await signIn(phone, "admin");
    await phone.goto(`${base}/#/admin/dashboard`);
    await phone.getByRole("img", { name: /^Of \d+ orders placed/ }).waitFor();
    await screenshot(phone, "16-phone-dashboard");
    const overflow = await phone.evaluate<number>("document.documentElement.scrollWidth - document.documentElement.clientWidth");
    expect(overflow).toBeLessThanOrEqual(0);
  }, 90_000);

  it("an admin makes every card payment fail on the fault page: a new order ends PAYMENT_FAILED", async () => {
    const page = await newPage();
    try {
      await signIn(page, "admin");
      await page.getByRole("link", { name: "Fault flags", exact: true }).click();
      await page.getByRole("heading", { name: "Fault flags", level: 1 }).waitFor();
      await page.getByText("No fault flag is set").waitFor();
      const card = page.locator('[data-provider="payment"]');
      // A rate out of range: the gateway's INVALID_ARGUMENT is shown as it is, naming the field.
      await card.getByLabel("Failure rate (%)").fill("150");
      await card.getByRole("button", { name: "Set Card processor fault" }).click();
      const refused = card.getByRole("alert").filter({ hasText: "the fault was not set" });
      await refused.waitFor();
      expect(await refused.textContent()).toMatch(/failure_rate.*must be from 0 to 1, got 1\.5/);
      // Every charge fails from now on.
      await card.getByLabel("Failure rate (%)").fill("100");
      await card.getByLabel("Added latency (ms)").fill("0");
      await card.getByLabel("Failure rate (%)").press("Enter");
      await page.getByText("Card processor: 100 % of calls fail.").waitFor();
      await page.locator('[data-provider="payment"]').getByText("Fault set").waitFor();
      const listed = await call("GET", "/api/v1/admin/faults", { token: adminToken });
      expect(listed.json).toMatchObject({ providers: [{ provider: "PROVIDER_PAYMENT", failure_rate: 1 }] });

      // A consumer, chosen from those the gateway lists (a wrong name cannot be picked), is paused and resumed.
      expect(listed.json).toMatchObject({ consumers: expect.arrayContaining([expect.objectContaining({ name: "delivery-create", service: "delivery" })]) });
      const picker = page.getByLabel("Consumer to pause");
      await picker.focus();
      await picker.selectOption("delivery-create");
      await page.getByText("delivery-create: shop.events.v1.").waitFor();
      await page.getByRole("button", { name: "Pause consumer" }).click();
      await page.getByRole("row", { name: /delivery-create/ }).waitFor();
      await screenshot(page, "17-admin-faults");
      await page.getByRole("button", { name: "Resume delivery-create" }).click();
      await page.getByText("Consumer delivery-create is pulling events again.").waitFor();
      await page.getByRole("row", { name: /delivery-create/ }).waitFor({ state: "detached" });
      expect(await picker.locator("option", { hasText: "delivery-create" }).count()).toBe(1);

      const aliceToken = await signDevToken({ sub: alice, secret: DEV_JWT_SECRET });
      const placed = await call("POST", "/api/v1/orders", {
        token: aliceToken,
        json: {
          items: [{ product_id: productId, quantity: 1 }],
          shipping_address: { recipient_name: "Alice Example", line1: "1 Main St", city: "Springfield", postal_code: "12345", country_code: "US" },
          payment_method: { token: "tok_visa" },
        },
      });
      expect(placed.status).toBe(201);
      const failedId = (placed.json as { id: string }).id;
      await page.goto(`${base}/#/orders/${failedId}`);
      await page.locator(".current-status").filter({ hasText: "Payment failed" }).waitFor({ timeout: 60_000 });
      await page
        .locator(".timeline strong")
        .filter({ hasText: /^Payment failed/ })
        .waitFor({ timeout: 30_000 });
      await screenshot(page, "18-order-payment-failed");

      await page.getByRole("link", { name: "Fault flags", exact: true }).click();
      await page.getByRole("button", { name: "Reset all flags" }).click();
      await page.getByText("Every fault flag was cleared.").waitFor();
      await page.getByText("No fault flag is set").waitFor();
      expect((await call("GET", "/api/v1/admin/faults", { token: adminToken })).json).toMatchObject({ providers: [], paused_consumers: [] });
    } finally {
      await call("DELETE", "/api/v1/admin/faults", { token: adminToken });
    }
  }, 120_000);

  it("with a real secret the page takes a pasted token and never offers to mint one", async () => {
    const secured = await start(readGatewayConfig(gatewayEnv({ JWT_SECRET: PASTE_SECRET })), { logger });
    try {
      const url = `http://127.0.0.1:${secured.port}`;
      expect((await fetch(`${url}/api/v1/dev/token`)).status).toBe(404);
      const page = await newPage();
      await page.goto(`${url}/`);
      await page.getByRole("heading", { name: "Sign in with a token" }).waitFor();
      expect(await page.getByRole("heading", { name: "Development sign-in" }).count()).toBe(0);
      // A token of the dev secret is refused by this gateway.
      await page.getByLabel("Access token").fill(await signDevToken({ sub: alice, secret: DEV_JWT_SECRET }));
      await page.getByRole("button", { name: "Use this token" }).click();
      await page
        .getByRole("alert")
        .filter({ hasText: /signature/ })
        .waitFor();
      await screenshot(page, "12-paste-token");
      await page.getByLabel("Access token").fill(await signDevToken({ sub: alice, secret: PASTE_SECRET }));
      await page.getByRole("button", { name: "Use this token" }).click();
      await page.getByRole("heading", { name: productName }).waitFor();
    } finally {
      await secured.stop(1_000);
    }
  }, 60_000);

  it("shows a clear message, not a blank page, when an upstream is down", async () => {
    await mesh.kill("inventory");
    const page = await newPage();
    await signIn(page, { customer: alice });
    const alert = page.getByRole("alert").filter({ hasText: "The catalog cannot be loaded" });
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/unavailable/i);
    await alert.getByRole("button", { name: "Try again" }).waitFor();
    // The rest of the app still works: the customer's orders come from another service.
    await page.getByRole("link", { name: "Orders", exact: true }).click();
    await page.locator(`a[title="${aliceOrderId}"]`).waitFor();
    await page.getByRole("link", { name: "Shop", exact: true }).click();
    await alert.waitFor();
    await screenshot(page, "13-upstream-down");

    // Without analytics the order page falls back to the status history, and says so.
    await mesh.kill("analytics");
    await page.goto(`${base}/#/orders/${aliceOrderId}`);
    const fallback = page.locator('.timeline[data-kind="status-history"]');
    await fallback.getByText("Shipped", { exact: true }).waitFor();
    await fallback.getByText("Confirmed", { exact: true }).waitFor();
    await page.locator(".timeline-note").filter({ hasText: "The event timeline is unavailable" }).waitFor();
    expect(await page.getByRole("alert").count()).toBe(0);
    await screenshot(page, "19-timeline-fallback");
    // The dashboard says what is wrong and offers to try again.
    const admin = await newPage();
    await signIn(admin, "admin");
    await admin.goto(`${base}/#/admin/dashboard`);
    const down = admin.getByRole("alert").filter({ hasText: "The dashboard cannot be loaded" });
    await down.waitFor();
    expect(await down.textContent()).toMatch(/unavailable/i);
    await down.getByRole("button", { name: "Try again" }).waitFor();
  }, 60_000);
});
