import { describe, expect, it } from "@jest/globals";
import { LoadShedder } from "./shedding.js";

describe("LoadShedder", () => {
  it("refuses requests above maxInFlight and admits again once one is released", () => {
    const shedder = new LoadShedder({ maxInFlight: 2, maxStreams: 1 });
    const a = shedder.tryAcquire();
    const b = shedder.tryAcquire();
    expect(a).toBeDefined();
    expect(b).toBeDefined();
    expect(shedder.tryAcquire()).toBeUndefined();
    expect(shedder.inFlight).toBe(2);
    a!();
    expect(shedder.inFlight).toBe(1);
    expect(shedder.tryAcquire()).toBeDefined();
  });

  it("releases a slot only once, however often release is called", () => {
    const shedder = new LoadShedder({ maxInFlight: 2, maxStreams: 1 });
    const a = shedder.tryAcquire()!;
    shedder.tryAcquire();
    a();
    a();
    a();
    expect(shedder.inFlight).toBe(1);
  });

  it("counts tracking streams separately, so watchers cannot shed ordinary requests", () => {
    const shedder = new LoadShedder({ maxInFlight: 1, maxStreams: 2 });
    expect(shedder.tryAcquire("stream")).toBeDefined();
    expect(shedder.tryAcquire("stream")).toBeDefined();
    expect(shedder.tryAcquire("stream")).toBeUndefined();
    expect(shedder.streams).toBe(2);
    expect(shedder.tryAcquire("request")).toBeDefined();
    expect(shedder.tryAcquire("request")).toBeUndefined();
  });
});
