import { useState } from "preact/hooks";

/** Page tokens as a stack: the current page's token is the last; "previous" pops. */
export function usePaging() {
  const [tokens, setTokens] = useState<string[]>([""]);
  const current = tokens[tokens.length - 1];
  return {
    token: current,
    hasPrevious: tokens.length > 1,
    next: (token: string) => token && setTokens([...tokens, token]),
    previous: () => tokens.length > 1 && setTokens(tokens.slice(0, -1)),
    reset: () => setTokens([""]),
  };
}
