import { useEffect, useState } from "preact/hooks";

/**
 * Pages are addressed by the URL fragment (`#/orders/<id>`), so every page can be bookmarked
 * and reloaded while the gateway serves only real files (no catch-all fallback that could mask
 * a mistyped API path).
 */
export type Route =
  | { page: "catalog" }
  | { page: "cart" }
  | { page: "orders" }
  | { page: "order"; id: string }
  | { page: "admin-products" }
  | { page: "admin-product"; id: string }
  | { page: "admin-deliveries" }
  | { page: "admin-payments" }
  | { page: "admin-notifications" }
  | { page: "admin-dlq" }
  | { page: "admin-dashboard" }
  | { page: "admin-faults" }
  | { page: "not-found"; path: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "") || "/";
  let parts: string[];
  try {
    // Split before decoding: an id may contain an encoded "/".
    parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  } catch {
    return { page: "not-found", path };
  }
  const [a, b, c] = parts;
  if (parts.length === 0) return { page: "catalog" };
  if (a === "cart" && parts.length === 1) return { page: "cart" };
  if (a === "orders" && parts.length === 1) return { page: "orders" };
  if (a === "orders" && parts.length === 2) return { page: "order", id: b };
  if (a === "admin") {
    if (b === "products" && parts.length === 2) return { page: "admin-products" };
    if (b === "products" && parts.length === 3) return { page: "admin-product", id: c };
    if (b === "deliveries" && parts.length === 2) return { page: "admin-deliveries" };
    if (b === "payments" && parts.length === 2) return { page: "admin-payments" };
    if (b === "notifications" && parts.length === 2) return { page: "admin-notifications" };
    if (b === "dlq" && parts.length === 2) return { page: "admin-dlq" };
    if (b === "dashboard" && parts.length === 2) return { page: "admin-dashboard" };
    if (b === "faults" && parts.length === 2) return { page: "admin-faults" };
  }
  return { page: "not-found", path };
}

/** The href of a page. */
export function href(route: Route): string {
  switch (route.page) {
    case "catalog":
      return "#/";
    case "cart":
      return "#/cart";
    case "orders":
      return "#/orders";
    case "order":
      return `#/orders/${encodeURIComponent(route.id)}`;
    case "admin-products":
      return "#/admin/products";
    case "admin-product":
      return `#/admin/products/${encodeURIComponent(route.id)}`;
    case "admin-deliveries":
      return "#/admin/deliveries";
    case "admin-payments":
      return "#/admin/payments";
    case "admin-notifications":
      return "#/admin/notifications";
    case "admin-dlq":
      return "#/admin/dlq";
    case "admin-dashboard":
      return "#/admin/dashboard";
    case "admin-faults":
      return "#/admin/faults";
    case "not-found":
      return `#${route.path}`;
  }
}

export function navigate(route: Route): void {
  window.location.hash = href(route);
}

/** The current page, following the fragment. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return route;
}
