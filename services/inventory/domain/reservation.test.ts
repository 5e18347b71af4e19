import { describe, expect, it } from "@jest/globals";
import { decideReservation, describeReservation, type ReservationInput, type ReservationOutcome, type ReservationState } from "./reservation.js";

const STATES: ReservationState[] = [
  { status: "NONE" },
  { status: "ACTIVE" },
  { status: "COMMITTED" },
  { status: "EXPIRED" },
  { status: "RELEASED", reason: "CANCELLED" },
  { status: "RELEASED", reason: "DELIVERY_FAILED" },
  { status: "RELEASED", reason: "PAYMENT_FAILED" },
  { status: "RELEASED", reason: "REJECTED" },
  { status: "RELEASED", reason: "MANUAL" },
  { status: "RELEASED", reason: "UNFILLED" },
];

const INPUTS: ReservationInput[] = [
  { type: "reserve" },
  { type: "commit" },
  { type: "release", reason: "CANCELLED" },
  { type: "release", reason: "DELIVERY_FAILED" },
  { type: "release", reason: "PAYMENT_FAILED" },
  { type: "release", reason: "REJECTED" },
  { type: "release", reason: "MANUAL" },
  { type: "expire" },
];

function inputName(input: ReservationInput): string {
  return input.type === "release" ? `release(${input.reason})` : input.type;
}

/** Every outcome that does something; all other pairs must be ignored. */
const EXPECTED: Record<string, ReservationOutcome> = {
  "NONE reserve": { kind: "reserve" },
  "NONE commit": { kind: "take-sold" },
  "NONE release(CANCELLED)": { kind: "record", to: "RELEASED", reason: "CANCELLED" },
  "NONE release(DELIVERY_FAILED)": { kind: "record", to: "RELEASED", reason: "DELIVERY_FAILED" },
  "NONE release(PAYMENT_FAILED)": { kind: "record", to: "RELEASED", reason: "PAYMENT_FAILED" },
  "NONE release(REJECTED)": { kind: "record", to: "RELEASED", reason: "REJECTED" },
  "ACTIVE commit": { kind: "commit-reserved" },
  "ACTIVE release(CANCELLED)": { kind: "release-reserved", to: "RELEASED", reason: "CANCELLED" },
  "ACTIVE release(DELIVERY_FAILED)": { kind: "release-reserved", to: "RELEASED", reason: "DELIVERY_FAILED" },
  "ACTIVE release(PAYMENT_FAILED)": { kind: "release-reserved", to: "RELEASED", reason: "PAYMENT_FAILED" },
  "ACTIVE release(REJECTED)": { kind: "release-reserved", to: "RELEASED", reason: "REJECTED" },
  "ACTIVE release(MANUAL)": { kind: "release-reserved", to: "RELEASED", reason: "MANUAL" },
  "ACTIVE expire": { kind: "release-reserved", to: "EXPIRED", reason: "EXPIRED" },
  "COMMITTED release(CANCELLED)": { kind: "return-sold", reason: "CANCELLED" },
  "COMMITTED release(DELIVERY_FAILED)": { kind: "return-sold", reason: "DELIVERY_FAILED" },
  "EXPIRED commit": { kind: "take-sold" },
  "EXPIRED release(CANCELLED)": { kind: "record", to: "RELEASED", reason: "CANCELLED" },
  "EXPIRED release(DELIVERY_FAILED)": { kind: "record", to: "RELEASED", reason: "DELIVERY_FAILED" },
  "RELEASED(MANUAL) commit": { kind: "take-sold" },
  "RELEASED(MANUAL) release(CANCELLED)": { kind: "record", to: "RELEASED", reason: "CANCELLED" },
  "RELEASED(MANUAL) release(DELIVERY_FAILED)": { kind: "record", to: "RELEASED", reason: "DELIVERY_FAILED" },
};

/** The status a reservation has after `outcome` (assuming stock was there for a take). */
function after(state: ReservationState, outcome: ReservationOutcome): ReservationState {
  switch (outcome.kind) {
    case "reserve":
      return { status: "ACTIVE" };
    case "commit-reserved":
    case "take-sold":
      return { status: "COMMITTED" };
    case "release-reserved":
      return outcome.to === "EXPIRED" ? { status: "EXPIRED" } : { status: "RELEASED", reason: outcome.reason as "CANCELLED" };
    case "return-sold":
      return { status: "RELEASED", reason: outcome.reason };
    case "record":
      return { status: "RELEASED", reason: outcome.reason };
    case "ignore":
      return state;
  }
}

/** Units the order holds as sold after `outcome` (1 = its lines are counted as sold). */
function soldAfter(sold: number, outcome: ReservationOutcome): number {
  if (outcome.kind === "commit-reserved" || outcome.kind === "take-sold") return 1;
  if (outcome.kind === "return-sold") return 0;
  return sold;
}

describe("reservation decisions", () => {
  for (const state of STATES) {
    for (const input of INPUTS) {
      const name = `${describeReservation(state)} ${inputName(input)}`;
      const expected = EXPECTED[name];
      it(`${name} -> ${expected ? expected.kind : "ignore"}`, () => {
        const outcome = decideReservation(state, input);
        if (expected) expect(outcome).toEqual(expected);
        else expect(outcome.kind).toBe("ignore");
      });
    }
  }

  it("ignores every input applied a second time", () => {
    for (const state of STATES) {
      for (const input of INPUTS) {
        const first = decideReservation(state, input);
        if (first.kind === "ignore") continue;
        expect(decideReservation(after(state, first), input).kind).toBe("ignore");
      }
    }
  });

  it("never counts a cancelled order as sold, whichever of commit and cancel comes first", () => {
    // A confirmed order cancelled moments later, with or without an expiry or an admin release
    // before: every interleaving ends with nothing sold.
    const starts: ReservationState[] = [{ status: "NONE" }, { status: "ACTIVE" }, { status: "EXPIRED" }, { status: "RELEASED", reason: "MANUAL" }];
    const commit: ReservationInput = { type: "commit" };
    const cancel: ReservationInput = { type: "release", reason: "CANCELLED" };
    for (const start of starts) {
      for (const order of [
        [commit, cancel],
        [cancel, commit],
      ]) {
        let state = start;
        let sold = 0;
        for (const input of order) {
          const outcome = decideReservation(state, input);
          sold = soldAfter(sold, outcome);
          state = after(state, outcome);
        }
        expect({ start: describeReservation(start), order: order.map(inputName), sold }).toEqual({
          start: describeReservation(start),
          order: order.map(inputName),
          sold: 0,
        });
        expect(state).toEqual({ status: "RELEASED", reason: "CANCELLED" });
      }
    }
  });

  it("sells a confirmed, never cancelled order exactly once, even after an expiry", () => {
    for (const start of [{ status: "NONE" }, { status: "ACTIVE" }, { status: "EXPIRED" }] as ReservationState[]) {
      let state = start;
      let sold = 0;
      for (const input of [{ type: "commit" }, { type: "commit" }, { type: "expire" }] as ReservationInput[]) {
        const outcome = decideReservation(state, input);
        sold = soldAfter(sold, outcome);
        state = after(state, outcome);
      }
      expect(sold).toBe(1);
      expect(state).toEqual({ status: "COMMITTED" });
    }
  });

  it("never counts a failed delivery's units as sold, whichever of commit and failure comes first", () => {
    for (const order of [
      [{ type: "commit" }, { type: "release", reason: "DELIVERY_FAILED" }],
      [{ type: "release", reason: "DELIVERY_FAILED" }, { type: "commit" }],
    ] as ReservationInput[][]) {
      let state: ReservationState = { status: "ACTIVE" };
      let sold = 0;
      for (const input of order) {
        const outcome = decideReservation(state, input);
        sold = soldAfter(sold, outcome);
        state = after(state, outcome);
      }
      expect(sold).toBe(0);
      expect(state).toEqual({ status: "RELEASED", reason: "DELIVERY_FAILED" });
    }
  });

  it("leaves a tombstone when the order ends before it is reserved, so late events take nothing", () => {
    const tomb = after({ status: "NONE" }, decideReservation({ status: "NONE" }, { type: "release", reason: "CANCELLED" }));
    expect(decideReservation(tomb, { type: "reserve" }).kind).toBe("ignore");
    expect(decideReservation(tomb, { type: "commit" }).kind).toBe("ignore");
  });
});
