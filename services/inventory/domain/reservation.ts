/**
 * The fate of an order's reservation, as one pure function: (reservation state, input) ->
 * outcome. Reserve (order.created or the Reserve RPC), commit (order.confirmed), release
 * (order.rejected / payment_failed / cancelled, the Release RPC) and expiry (the sweeper) are
 * separate consumers with no mutual ordering, so every one of them asks `decideReservation`
 * under the reservation's row lock, whatever order they arrive in. No I/O here.
 *
 *   NONE ──reserve──> ACTIVE ──commit──> COMMITTED ──release(CANCELLED | DELIVERY_FAILED)──> RELEASED(reason)
 *     │                 ├──release(r)──> RELEASED(r)
 *     │                 └──expire──────> EXPIRED
 *     ├──commit──> COMMITTED (the lines taken from available), or RELEASED(UNFILLED)
 *     └──release(r)──> RELEASED(r), a tombstone that holds nothing
 *
 * A commit after the stock went back to available (EXPIRED, or RELEASED by an admin) takes the
 * stock again only if the order was not cancelled meanwhile: a cancellation that arrives there
 * first is recorded as RELEASED(CANCELLED), which every later commit ignores.
 */

/** Why a reservation's stock went back (or never came): the order's way out, an admin, or no stock left at commit. */
export type ReleaseReason = "CANCELLED" | "DELIVERY_FAILED" | "PAYMENT_FAILED" | "REJECTED" | "MANUAL" | "UNFILLED";

/** The ends of an order that may come after its commit, and so return sold units: the order is over for good. */
function endsPaidOrder(reason: ReleaseReason): reason is "CANCELLED" | "DELIVERY_FAILED" {
  return reason === "CANCELLED" || reason === "DELIVERY_FAILED";
}

export type ReservationState =
  { status: "NONE" } | { status: "ACTIVE" } | { status: "COMMITTED" } | { status: "EXPIRED" } | { status: "RELEASED"; reason: ReleaseReason };

export type ReservationInput = { type: "reserve" } | { type: "commit" } | { type: "release"; reason: Exclude<ReleaseReason, "UNFILLED"> } | { type: "expire" };

export type ReservationOutcome =
  /** Take the lines from available into reserved (all or none); ACTIVE, or nothing when short. */
  | { kind: "reserve" }
  /** Move the reserved lines to sold; COMMITTED. */
  | { kind: "commit-reserved" }
  /** Take the lines from available straight to sold; COMMITTED, or RELEASED(UNFILLED) when short. */
  | { kind: "take-sold" }
  /** Return the reserved lines to available; `to` is the new status. */
  | { kind: "release-reserved"; to: "RELEASED" | "EXPIRED"; reason: ReleaseReason | "EXPIRED" }
  /** Return sold lines to available (a cancellation or failed delivery after the commit); RELEASED(reason). */
  | { kind: "return-sold"; reason: "CANCELLED" | "DELIVERY_FAILED" }
  /** Record what was seen without moving stock, so that a later input decides correctly. */
  | { kind: "record"; to: "RELEASED"; reason: ReleaseReason }
  /** Nothing to do: a duplicate, or an input made pointless by an earlier one. */
  | { kind: "ignore"; why: string };

/** Decides what `input` does to a reservation in `state`. */
export function decideReservation(state: ReservationState, input: ReservationInput): ReservationOutcome {
  switch (input.type) {
    case "reserve":
      if (state.status === "NONE") return { kind: "reserve" };
      return { kind: "ignore", why: `the order already has a reservation (${describe(state)})` };
    case "commit":
      return decideCommit(state);
    case "release":
      return decideRelease(state, input.reason);
    case "expire":
      if (state.status === "ACTIVE") return { kind: "release-reserved", to: "EXPIRED", reason: "EXPIRED" };
      return { kind: "ignore", why: `only an ACTIVE reservation expires, this one is ${describe(state)}` };
  }
}

function decideCommit(state: ReservationState): ReservationOutcome {
  switch (state.status) {
    case "ACTIVE":
      return { kind: "commit-reserved" };
    case "COMMITTED":
      return { kind: "ignore", why: "already committed" };
    // Confirmed before its order.created was handled here (paid through CreatePayment), or after
    // the reservation expired: the order is paid, so its stock is taken if it is still there.
    case "NONE":
    case "EXPIRED":
      return { kind: "take-sold" };
    case "RELEASED":
      // An admin's release is not the order's end; any other release is final for this order.
      if (state.reason === "MANUAL") return { kind: "take-sold" };
      return { kind: "ignore", why: `the reservation was released (${state.reason}); a commit must not take its stock again` };
  }
}

function decideRelease(state: ReservationState, reason: Exclude<ReleaseReason, "UNFILLED">): ReservationOutcome {
  switch (state.status) {
    case "ACTIVE":
      return { kind: "release-reserved", to: "RELEASED", reason };
    case "NONE":
      // Released before it was reserved: the tombstone stops a late order.created / order.confirmed.
      if (reason === "MANUAL") return { kind: "ignore", why: "nothing reserved" };
      return { kind: "record", to: "RELEASED", reason };
    case "COMMITTED":
      if (endsPaidOrder(reason)) return { kind: "return-sold", reason };
      return { kind: "ignore", why: `committed stock is returned only by a cancellation or a failed delivery, not ${reason}` };
    case "EXPIRED":
      // The stock is already back; remember the order's end so that a late commit does not re-take it.
      if (endsPaidOrder(reason)) return { kind: "record", to: "RELEASED", reason };
      return { kind: "ignore", why: `nothing held (EXPIRED); ${reason} changes nothing` };
    case "RELEASED":
      if (endsPaidOrder(reason) && state.reason === "MANUAL") return { kind: "record", to: "RELEASED", reason };
      return { kind: "ignore", why: `already released (${state.reason})` };
  }
}

/** The state as logs and reasons name it, e.g. RELEASED(CANCELLED). */
export function describeReservation(state: ReservationState): string {
  return state.status === "RELEASED" ? `RELEASED(${state.reason})` : state.status;
}

const describe = describeReservation;
