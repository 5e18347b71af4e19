/**
 * Typed environment configuration. A service describes its settings once with the readers
 * below; `readConfig` validates them all and fails at start with one error that names every
 * bad variable, instead of failing later at first use.
 */

/** A reader turns the raw environment into one typed value, or throws a ConfigError. */
export type EnvReader<T> = (env: NodeJS.ProcessEnv) => T;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

function raw(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

function required<T>(name: string, fallback: T | undefined): T {
  if (fallback === undefined) throw new ConfigError([`${name} is required but not set`]);
  return fallback;
}

/** A string variable, with an optional default. */
export function str(name: string, fallback?: string): EnvReader<string> {
  return (env) => raw(env, name) ?? required(name, fallback);
}

/** An optional string: undefined when unset. */
export function optionalStr(name: string): EnvReader<string | undefined> {
  return (env) => raw(env, name);
}

/** An integer variable within [min, max]. */
export function int(name: string, fallback?: number, range: { min?: number; max?: number } = {}): EnvReader<number> {
  return (env) => {
    const value = raw(env, name);
    if (value === undefined) return required(name, fallback);
    const parsed = Number(value);
    const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = range;
    if (!/^-?\d+$/.test(value) || parsed < min || parsed > max) {
      throw new ConfigError([`${name} must be an integer between ${min} and ${max}, got "${value}"`]);
    }
    return parsed;
  };
}

/** A decimal number within [min, max], e.g. a failure rate between 0 and 1. */
export function decimal(name: string, fallback?: number, range: { min?: number; max?: number } = {}): EnvReader<number> {
  return (env) => {
    const value = raw(env, name);
    if (value === undefined) return required(name, fallback);
    const parsed = Number(value);
    const { min = -Number.MAX_VALUE, max = Number.MAX_VALUE } = range;
    if (!/^-?\d+(\.\d+)?$/.test(value) || parsed < min || parsed > max) {
      throw new ConfigError([`${name} must be a number between ${min} and ${max}, got "${value}"`]);
    }
    return parsed;
  };
}

/** A boolean variable: true/false/1/0/yes/no. */
export function bool(name: string, fallback?: boolean): EnvReader<boolean> {
  return (env) => {
    const value = raw(env, name)?.toLowerCase();
    if (value === undefined) return required(name, fallback);
    if (["true", "1", "yes"].includes(value)) return true;
    if (["false", "0", "no"].includes(value)) return false;
    throw new ConfigError([`${name} must be true or false, got "${value}"`]);
  };
}

/** A URL variable restricted to the given protocols (e.g. ["postgres:", "postgresql:"]). */
export function url(name: string, protocols: string[], fallback?: string): EnvReader<string> {
  return (env) => {
    const value = raw(env, name) ?? required(name, fallback);
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new ConfigError([`${name} must be a URL, got "${value}"`]);
    }
    if (!protocols.includes(parsed.protocol)) {
      throw new ConfigError([`${name} must use ${protocols.join(" or ")}, got "${parsed.protocol}"`]);
    }
    return value;
  };
}

/**
 * A comma-separated list of URLs restricted to the given protocols, e.g. the servers of a NATS
 * cluster (`nats://nats-0:4222,nats://nats-1:4222`). Every entry is checked; the value is
 * returned normalised (entries trimmed, joined by ","), so a consumer can split it again.
 */
export function urlList(name: string, protocols: string[], fallback?: string): EnvReader<string> {
  return (env) => {
    const value = raw(env, name) ?? required(name, fallback);
    const entries = value.split(",").map((entry) => entry.trim());
    const problems: string[] = [];
    entries.forEach((entry, i) => {
      const where = entries.length > 1 ? `${name}[${i}]` : name;
      if (entry === "") {
        problems.push(`${where} is empty (the list is comma-separated URLs), got "${value}"`);
        return;
      }
      let parsed: URL;
      try {
        parsed = new URL(entry);
      } catch {
        problems.push(`${where} must be a URL, got "${entry}"`);
        return;
      }
      if (!protocols.includes(parsed.protocol)) problems.push(`${where} must use ${protocols.join(" or ")}, got "${parsed.protocol}"`);
    });
    if (problems.length > 0) throw new ConfigError(problems);
    return entries.join(",");
  };
}

/** A `host:port` address, as used by `<SERVICE>_ADDR`. */
export function address(name: string, fallback?: string): EnvReader<string> {
  return (env) => {
    const value = raw(env, name) ?? required(name, fallback);
    const match = /^(.+):(\d{1,5})$/.exec(value);
    if (!match || Number(match[2]) > 65535) {
      throw new ConfigError([`${name} must be host:port, got "${value}"`]);
    }
    return value;
  };
}

/** One of a fixed set of values. */
export function oneOf<const T extends string>(name: string, values: readonly T[], fallback?: T): EnvReader<T> {
  return (env) => {
    const value = raw(env, name) ?? required(name, fallback);
    if (!values.includes(value as T)) {
      throw new ConfigError([`${name} must be one of ${values.join(", ")}, got "${value}"`]);
    }
    return value as T;
  };
}

type Spec = Record<string, EnvReader<unknown>>;
type ConfigOf<S extends Spec> = { [K in keyof S]: ReturnType<S[K]> };

/** Reads every setting of `spec`; throws one ConfigError listing all problems. */
export function readConfig<S extends Spec>(spec: S, env: NodeJS.ProcessEnv = process.env): ConfigOf<S> {
  const problems: string[] = [];
  const config: Record<string, unknown> = {};
  for (const [key, reader] of Object.entries(spec)) {
    try {
      config[key] = reader(env);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config as ConfigOf<S>;
}
