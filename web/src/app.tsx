import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { orders, setToken, setUnauthenticatedHandler } from "./api.js";
import { type Cart, useCart } from "./cart.js";
import { Notice } from "./components/ui.js";
import { AdminDashboard } from "./pages/admin/dashboard.js";
import { AdminDeadLetters } from "./pages/admin/dead-letters.js";
import { AdminDeliveries } from "./pages/admin/deliveries.js";
import { AdminFaults } from "./pages/admin/faults.js";
import { AdminNotifications } from "./pages/admin/notifications.js";
import { AdminPayments } from "./pages/admin/payments.js";
import { AdminProduct } from "./pages/admin/product.js";
import { AdminProducts } from "./pages/admin/products.js";
import { CartPage } from "./pages/cart.js";
import { Catalog } from "./pages/catalog.js";
import { OrderPage } from "./pages/order.js";
import { Orders } from "./pages/orders.js";
import { SignIn } from "./pages/sign-in.js";
import { href, type Route, useRoute } from "./router.js";
import { loadSession, type Session, saveSession } from "./session.js";

const CUSTOMER_NAV: { label: string; route: Route; pages: Route["page"][] }[] = [
  { label: "Shop", route: { page: "catalog" }, pages: ["catalog"] },
  { label: "Cart", route: { page: "cart" }, pages: ["cart"] },
  { label: "Orders", route: { page: "orders" }, pages: ["orders", "order"] },
];

const ADMIN_NAV: { label: string; route: Route; pages: Route["page"][] }[] = [
  { label: "Dashboard", route: { page: "admin-dashboard" }, pages: ["admin-dashboard"] },
  { label: "Products", route: { page: "admin-products" }, pages: ["admin-products", "admin-product"] },
  { label: "Orders", route: { page: "orders" }, pages: ["orders", "order"] },
  { label: "Deliveries", route: { page: "admin-deliveries" }, pages: ["admin-deliveries"] },
  { label: "Payments", route: { page: "admin-payments" }, pages: ["admin-payments"] },
  { label: "Notifications", route: { page: "admin-notifications" }, pages: ["admin-notifications"] },
  { label: "Dead letters", route: { page: "admin-dlq" }, pages: ["admin-dlq"] },
  { label: "Fault flags", route: { page: "admin-faults" }, pages: ["admin-faults"] },
];

export function App() {
  const [session, setSession] = useState<Session | undefined>(() => {
    const loaded = loadSession();
    setToken(loaded?.token);
    return loaded;
  });
  const [signedOutWhy, setSignedOutWhy] = useState<string>();

  const signIn = useCallback((next: Session) => {
    saveSession(next);
    setToken(next.token);
    setSignedOutWhy(undefined);
    setSession(next);
    window.location.hash = next.admin ? "#/admin/products" : "#/";
  }, []);

  const signOut = useCallback((why?: string) => {
    saveSession(undefined);
    setToken(undefined);
    setSession(undefined);
    setSignedOutWhy(why);
  }, []);

  useEffect(() => {
    setUnauthenticatedHandler((message) => signOut(`The gateway no longer accepts your sign-in (${message}). Please sign in again.`));
  }, [signOut]);

  // A token that expires while the page is open signs the person out, with a word why.
  useEffect(() => {
    if (!session) return;
    const timer = setTimeout(() => signOut("Your sign-in expired. Please sign in again."), Math.max(0, session.expiresAt - Date.now()));
    return () => clearTimeout(timer);
  }, [session, signOut]);

  if (!session) {
    return (
      <Shell>
        {signedOutWhy ? <Notice kind="warning">{signedOutWhy}</Notice> : null}
        <SignIn onSignedIn={signIn} />
      </Shell>
    );
  }
  return <SignedIn session={session} onSignOut={() => signOut()} />;
}

function Shell({ children, nav }: { children: ComponentChildren; nav?: ComponentChildren }) {
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/">
          <img src="/favicon.svg" alt="" width={28} height={28} />
          <span>ordermesh</span>
        </a>
        {nav}
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}

function SignedIn({ session, onSignOut }: { session: Session; onSignOut(): void }) {
  const route = useRoute();
  const cart = useCart(session.sub);
  const [name, setName] = useState<string>();
  useEffect(() => {
    if (session.admin) return;
    const controller = new AbortController();
    orders.getCustomer({ customerId: session.sub }, { signal: controller.signal }).then(
      (answer) => setName(answer.customer?.name),
      () => undefined, // the id is shown instead
    );
    return () => controller.abort();
  }, [session]);
  const items = session.admin ? ADMIN_NAV : CUSTOMER_NAV;
  const nav = (
    <nav class="main-nav" aria-label="Main">
      <ul>
        {items.map((item) => (
          <li key={item.label}>
            <a href={href(item.route)} aria-current={item.pages.includes(route.page) ? "page" : undefined}>
              {item.label}
              {item.route.page === "cart" && cart.count > 0 ? (
                <span class="count" aria-label={`${cart.count} items`}>
                  {cart.count}
                </span>
              ) : null}
            </a>
          </li>
        ))}
      </ul>
      <div class="who">
        <span class="who-name" title={session.sub}>
          {session.admin ? "Admin · " : name ? `${name} · ` : "Customer · "}
          <code>{session.sub.length > 12 ? `…${session.sub.slice(-6)}` : session.sub}</code>
        </span>
        <button type="button" class="link" onClick={onSignOut}>
          Sign out
        </button>
      </div>
    </nav>
  );
  return <Shell nav={nav}>{page(route, session, cart)}</Shell>;
}

function page(route: Route, session: Session, cart: Cart) {
  const adminOnly = <Notice kind="warning">This page is for administrators. You are signed in as a customer.</Notice>;
  switch (route.page) {
    case "catalog":
      return session.admin ? <AdminProducts /> : <Catalog cart={cart} />;
    case "cart":
      return <CartPage cart={cart} session={session} />;
    case "orders":
      return <Orders session={session} />;
    case "order":
      return <OrderPage key={route.id} id={route.id} session={session} />;
    case "admin-products":
      return session.admin ? <AdminProducts /> : adminOnly;
    case "admin-product":
      return session.admin ? <AdminProduct key={route.id} id={route.id} /> : adminOnly;
    case "admin-deliveries":
      return session.admin ? <AdminDeliveries /> : adminOnly;
    case "admin-payments":
      return session.admin ? <AdminPayments /> : adminOnly;
    case "admin-notifications":
      return session.admin ? <AdminNotifications /> : adminOnly;
    case "admin-dlq":
      return session.admin ? <AdminDeadLetters /> : adminOnly;
    case "admin-dashboard":
      return session.admin ? <AdminDashboard /> : adminOnly;
    case "admin-faults":
      return session.admin ? <AdminFaults /> : adminOnly;
    case "not-found":
      return (
        <Notice kind="warning">
          There is no page at <code>{route.path}</code>. <a href="#/">Go to the start page</a>.
        </Notice>
      );
  }
}
