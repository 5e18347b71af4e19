import type { ComponentChildren, FormHTMLAttributes } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { describeError } from "../errors.js";

/** A failed call, in words, with a retry button when trying again can help. */
export function ErrorNotice({ error, onRetry, context }: { error: unknown; onRetry?: () => void; context?: string }) {
  if (error === undefined || error === null) return null;
  const problem = describeError(error);
  return (
    <div class="notice notice-error" role="alert">
      <strong>{context ? `${context}: ${problem.title}` : problem.title}</strong>
      <p>
        {problem.detail}
        {problem.field ? (
          <>
            {" "}
            (field <code>{problem.field}</code>)
          </>
        ) : null}
      </p>
      {onRetry && problem.retryable ? (
        <button type="button" class="secondary" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

export function Notice({ kind = "info", children }: { kind?: "info" | "success" | "warning"; children: ComponentChildren }) {
  return (
    <div class={`notice notice-${kind}`} role="status">
      {children}
    </div>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      {label}
    </p>
  );
}

/** A status as a coloured badge; the colour comes from its tone, the words are always there. */
export function Badge({ tone, children }: { tone: "good" | "bad" | "warn" | "neutral" | "info"; children: ComponentChildren }) {
  return <span class={`badge badge-${tone}`}>{children}</span>;
}

let initialPage = true;

/**
 * Moves focus to the page heading when the person goes to another page, so keyboard and screen
 * reader users land on it. Not on the first page load: there the skip link comes first.
 */
export function PageTitle({ children, actions }: { children: ComponentChildren; actions?: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (initialPage) {
      initialPage = false;
      return;
    }
    ref.current?.focus({ preventScroll: true });
  }, []);
  return (
    <div class="page-title">
      <h1 tabIndex={-1} ref={ref}>
        {children}
      </h1>
      {actions ? <div class="actions">{actions}</div> : null}
    </div>
  );
}

/** Previous / next buttons over page tokens (see paging.ts); hidden when there is one page. */
export function Pager({
  hasPrevious,
  nextToken,
  onPrevious,
  onNext,
  label,
}: {
  hasPrevious: boolean;
  nextToken: string;
  onPrevious(): void;
  onNext(): void;
  label: string;
}) {
  if (!hasPrevious && !nextToken) return null;
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <button type="button" class="secondary" disabled={!hasPrevious} onClick={onPrevious}>
        ← Previous
      </button>
      <button type="button" class="secondary" disabled={!nextToken} onClick={onNext}>
        Next →
      </button>
    </nav>
  );
}

/** A form whose submit runs the page's action (a `useAction` run) instead of navigating. */
export function ActionForm({
  onSubmit,
  children,
  ...attributes
}: { onSubmit: () => unknown; children: ComponentChildren } & Omit<FormHTMLAttributes<HTMLFormElement>, "onSubmit">) {
  return (
    <form
      {...attributes}
      onSubmit={(event) => {
        event.preventDefault();
        void onSubmit();
      }}
    >
      {children}
    </form>
  );
}
