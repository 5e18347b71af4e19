export { GuardedProvider, type GuardOptions, withDeadline } from "./guarded.js";
export * from "./provider.js";
export { SimulatedProvider, type SimulatedCharge, type SimulatedProviderOptions, type SimulatedRefund, TEST_TOKENS, tokenBehaviour } from "./simulated.js";
