import { notFound } from "../../lib/errors.js";
import type { Principal } from "../auth.js";
import { permissionDenied } from "../errors.js";

/**
 * Authorization rules of the public API.
 *
 * - Admins (role `admin`) may do everything.
 * - A customer is the principal whose `sub` is their customer id. They see and change only their
 *   own orders, payments, files, deliveries and notifications. Another customer's resource is
 *   NOT_FOUND, exactly as if it did not exist, so ids cannot be probed.
 * - Filters and owner fields a customer sends must be their own id (PERMISSION_DENIED naming the
 *   field otherwise); left empty, they are filled in.
 * - Catalog changes, stock operations, delivery changes, refunds, ad-hoc notifications, customer
 *   registration and the DLQ need `admin` (PERMISSION_DENIED).
 */

export function requireAdmin(principal: Principal, what: string): void {
  if (!principal.admin) throw permissionDenied(`${what} requires role admin`);
}

/**
 * The customer id to use for a request field that names the owner: for a customer their own id
 * (empty means "me"; anything else is PERMISSION_DENIED naming `field`); for an admin the value
 * as sent.
 */
export function ownerField(principal: Principal, field: string, value: string): string {
  if (principal.admin) return value;
  if (value === "" || value === principal.sub) return principal.sub;
  throw permissionDenied(`${field}: customers may only use their own customer id`, field);
}

/** NOT_FOUND "<kind> <id> not found" unless the principal may see a resource owned by `ownerId`. */
export function hideUnlessOwner(principal: Principal, ownerId: string | undefined, kind: string, id: string): void {
  if (!principal.admin && ownerId !== principal.sub) throw notFound(kind, id);
}

export function owns(principal: Principal, ownerId: string | undefined): boolean {
  return principal.admin || ownerId === principal.sub;
}
