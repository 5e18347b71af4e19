import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ellipsize, formatCount, labelIndexes, niceTicks } from "../chart-scale.js";

/**
 * The dashboard's charts: plain SVG drawn at the width the page gives them (measured, so text
 * stays readable from a phone to a desktop), each an `role="img"` with a one-sentence summary
 * and the numbers behind it in a table under "Show as table".
 */

/** Colours by meaning, as the badges use them (status.tsx). */
export type Tone = "info" | "good" | "bad" | "warn" | "neutral";

/** The width of the element behind `ref`, following resizes (0 until measured). */
function useWidth<T extends Element>() {
  const ref = useRef<T>(null);
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const observer = new ResizeObserver((entries) => setWidth(Math.floor(entries[0].contentRect.width)));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return { ref, width };
}

/** The numbers of a chart as a table, folded away under "Show as table". */
export function ChartTable({ caption, head, rows }: { caption: string; head: string[]; rows: ComponentChildren[][] }) {
  return (
    <details class="chart-table">
      <summary>Show as table</summary>
      <table class="table">
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            {head.map((h) => (
              <th key={h} scope="col">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((cells, r) => (
            <tr key={r}>
              {cells.map((cell, c) =>
                c === 0 ? (
                  <th key={c} scope="row">
                    {cell}
                  </th>
                ) : (
                  <td key={c}>{cell}</td>
                ),
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}

export interface Series {
  name: string;
  values: number[];
  tone: Tone;
  /** An SVG dash pattern, so the lines differ in more than colour (undefined: solid). */
  dash?: string;
}

const LINE_HEIGHT = 200;
const PAD = { left: 40, right: 10, top: 10, bottom: 24 };

/** Lines over time: one value per point of `times`, for each series. */
export function LineChart({ summary, times, series, formatTime }: { summary: string; times: Date[]; series: Series[]; formatTime(at: Date): string }) {
  const { ref, width } = useWidth<HTMLDivElement>();
  const max = Math.max(0, ...series.flatMap((s) => s.values));
  const ticks = niceTicks(max);
  const top = ticks[ticks.length - 1];
  const plotWidth = Math.max(0, width - PAD.left - PAD.right);
  const plotHeight = LINE_HEIGHT - PAD.top - PAD.bottom;
  const n = times.length;
  const x = (i: number) => PAD.left + (n <= 1 ? plotWidth / 2 : (i * plotWidth) / (n - 1));
  const y = (v: number) => PAD.top + plotHeight * (1 - v / top);
  const dots = n > 0 && plotWidth / n >= 4;
  return (
    <div class="chart">
      <ul class="legend">
        {series.map((s) => (
          <li key={s.name}>
            <svg width="22" height="10" aria-hidden="true">
              <line x1="1" y1="5" x2="21" y2="5" class={`stroke-${s.tone}`} stroke-width="3" stroke-dasharray={s.dash} />
            </svg>
            {s.name}
          </li>
        ))}
      </ul>
      <div ref={ref} class="chart-canvas">
        {width > 0 ? (
          <svg role="img" aria-label={summary} width={width} height={LINE_HEIGHT} viewBox={`0 0 ${width} ${LINE_HEIGHT}`}>
            <title>{summary}</title>
            {ticks.map((t) => (
              <g key={t}>
                <line x1={PAD.left} x2={width - PAD.right} y1={y(t)} y2={y(t)} class="gridline" />
                <text x={PAD.left - 6} y={y(t) + 4} text-anchor="end" class="axis">
                  {formatCount(t)}
                </text>
              </g>
            ))}
            {labelIndexes(n, width < 420 ? 3 : 5).map((i) => (
              <text key={i} x={x(i)} y={LINE_HEIGHT - 6} text-anchor={i === 0 ? "start" : i === n - 1 ? "end" : "middle"} class="axis">
                {formatTime(times[i])}
              </text>
            ))}
            {series.map((s) => (
              <g key={s.name}>
                <polyline
                  points={s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ")}
                  fill="none"
                  class={`stroke-${s.tone}`}
                  stroke-width="2"
                  stroke-linejoin="round"
                  stroke-dasharray={s.dash}
                />
                {dots
                  ? s.values.map((v, i) =>
                      v > 0 ? (
                        <circle key={i} cx={x(i)} cy={y(v)} r="3.5" class={`fill-${s.tone}`}>
                          <title>{`${s.name}: ${v} at ${formatTime(times[i])}`}</title>
                        </circle>
                      ) : null,
                    )
                  : null}
              </g>
            ))}
          </svg>
        ) : null}
      </div>
    </div>
  );
}

export interface Bar {
  label: string;
  value: number;
  /** The value as shown at the end of the row (default: the count). */
  display?: string;
  tone?: Tone;
}

const ROW = 40;

/** Horizontal bars, one row each: the label and value above, the bar below. */
export function BarChart({ summary, bars, max }: { summary: string; bars: Bar[]; max?: number }) {
  const { ref, width } = useWidth<HTMLDivElement>();
  const top = Math.max(max ?? 0, ...bars.map((b) => b.value), 1);
  const height = bars.length * ROW;
  return (
    <div ref={ref} class="chart-canvas">
      {width > 0 ? (
        <svg role="img" aria-label={summary} width={width} height={height} viewBox={`0 0 ${width} ${height}`}>
          <title>{summary}</title>
          {bars.map((bar, i) => {
            const display = bar.display ?? formatCount(bar.value);
            // About 7 px per character at the axis font size; the value keeps its room.
            const room = Math.floor((width - display.length * 7.5 - 12) / 7);
            const y = i * ROW;
            const length = bar.value > 0 ? Math.max(2, (bar.value / top) * width) : 0;
            return (
              <g key={i}>
                <title>{`${bar.label}: ${display}`}</title>
                <text x="0" y={y + 15} class="bar-label">
                  {ellipsize(bar.label, room)}
                </text>
                <text x={width} y={y + 15} text-anchor="end" class="bar-value">
                  {display}
                </text>
                <rect x="0" y={y + 21} width={width} height="12" rx="3" class="track" />
                <rect x="0" y={y + 21} width={length} height="12" rx="3" class={`fill-${bar.tone ?? "info"}`} />
              </g>
            );
          })}
        </svg>
      ) : null}
    </div>
  );
}
