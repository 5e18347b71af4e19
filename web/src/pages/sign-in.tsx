import { useEffect, useState } from "preact/hooks";
import { inventory, rest, RestError } from "../api.js";
import { ErrorNotice, Loading, PageTitle } from "../components/ui.js";
import { type Session, sessionFromToken } from "../session.js";

interface DevOptions {
  dev_customer_id: string;
  admin_subject: string;
  ttl_seconds: number;
}

type Mode = { kind: "probing" } | { kind: "dev"; options: DevOptions } | { kind: "token" } | { kind: "unreachable"; error: unknown };

/**
 * Sign-in. With the gateway's built-in development secret, `GET /api/v1/dev/token` answers and
 * the page offers the dev customer, an admin or any customer id, and asks the gateway to mint
 * the token. Otherwise that route is 404: the page only takes a token from your identity
 * provider, pasted in, and checks it with one call before using it.
 */
export function SignIn({ onSignedIn }: { onSignedIn(session: Session): void }) {
  const [mode, setMode] = useState<Mode>({ kind: "probing" });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    setMode({ kind: "probing" });
    rest<DevOptions>("GET", "/api/v1/dev/token", undefined, { token: false }).then(
      (options) => setMode({ kind: "dev", options }),
      (error: unknown) => setMode(error instanceof RestError && error.status === 404 ? { kind: "token" } : { kind: "unreachable", error }),
    );
  }, [attempt]);

  return (
    <section class="sign-in">
      <PageTitle>Sign in</PageTitle>
      {mode.kind === "probing" ? <Loading label="Contacting the gateway…" /> : null}
      {mode.kind === "unreachable" ? <ErrorNotice error={mode.error} context="Cannot sign in" onRetry={() => setAttempt((n) => n + 1)} /> : null}
      {mode.kind === "dev" ? <DevSignIn options={mode.options} onSignedIn={onSignedIn} /> : null}
      {mode.kind === "dev" || mode.kind === "token" ? <PasteToken onSignedIn={onSignedIn} open={mode.kind === "token"} /> : null}
    </section>
  );
}

function DevSignIn({ options, onSignedIn }: { options: DevOptions; onSignedIn(session: Session): void }) {
  const [who, setWho] = useState<"dev" | "admin" | "other">("dev");
  const [customerId, setCustomerId] = useState("");
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const body = who === "admin" ? { role: "admin" } : { role: "customer", customer_id: who === "other" ? customerId.trim() : options.dev_customer_id };
      const { token } = await rest<{ token: string }>("POST", "/api/v1/dev/token", body, { token: false });
      onSignedIn(sessionFromToken(token));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="card" onSubmit={submit} aria-labelledby="dev-sign-in">
      <h2 id="dev-sign-in">Development sign-in</h2>
      <p class="hint">
        This gateway runs with the built-in development secret, so it mints tokens for anyone who asks. Never expose it like this: set <code>JWT_SECRET</code>{" "}
        or <code>JWT_JWKS_URL</code>.
      </p>
      <fieldset>
        <legend>Sign in as</legend>
        <label class="choice">
          <input type="radio" name="who" value="dev" checked={who === "dev"} onChange={() => setWho("dev")} />
          <span>
            The dev customer <small class="mono">{options.dev_customer_id}</small>
          </span>
        </label>
        <label class="choice">
          <input type="radio" name="who" value="admin" checked={who === "admin"} onChange={() => setWho("admin")} />
          <span>An admin</span>
        </label>
        <label class="choice">
          <input type="radio" name="who" value="other" checked={who === "other"} onChange={() => setWho("other")} />
          <span>Another customer</span>
        </label>
        {who === "other" ? (
          <div class="field">
            <label for="customer-id">Customer id</label>
            <input
              id="customer-id"
              name="customer-id"
              required
              autoComplete="off"
              spellcheck={false}
              pattern="[0-9a-fA-F\-]{36}"
              placeholder="0190a000-0000-7000-8000-0000000000c1"
              value={customerId}
              onInput={(e) => setCustomerId(e.currentTarget.value)}
            />
          </div>
        ) : null}
      </fieldset>
      <ErrorNotice error={error} context="Sign-in failed" />
      <button type="submit" disabled={busy}>
        {busy ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}

function PasteToken({ onSignedIn, open }: { onSignedIn(session: Session): void; open: boolean }) {
  const [text, setText] = useState("");
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const session = sessionFromToken(text);
      // One cheap call with the token proves the gateway accepts it before the page relies on it.
      await inventory.listProducts({ pageSize: 1 }, { headers: { authorization: `Bearer ${session.token}` } });
      onSignedIn(session);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  const form = (
    <form onSubmit={submit} class={open ? "card" : undefined} aria-labelledby="paste-token">
      {open ? <h2 id="paste-token">Sign in with a token</h2> : null}
      <p class="hint">Paste the bearer token (JWT) your identity provider issued for ordermesh. It stays in this browser tab only.</p>
      <div class="field">
        <label for="token">Access token</label>
        <textarea
          id="token"
          name="token"
          rows={4}
          required
          spellcheck={false}
          autoComplete="off"
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
        />
      </div>
      <ErrorNotice error={error} context="This token cannot be used" />
      <button type="submit" disabled={busy || text.trim() === ""}>
        {busy ? "Checking…" : "Use this token"}
      </button>
    </form>
  );
  if (open) return form;
  return (
    <details class="card">
      <summary id="paste-token">Or paste a token</summary>
      {form}
    </details>
  );
}
