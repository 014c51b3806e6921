import type { SamplerKind } from "./TelemetryConfig.ts"

/**
 * Whether a trace is recorded: given the sampled flag of a remote parent
 * (an incoming `traceparent`), or undefined for a new trace, and the trace id.
 */
export type Sampler = (parentSampled: boolean | undefined, traceId: string) => boolean

// 2^52: the low 13 hex digits of a trace id (52 bits) are exactly a JS number.
const scale = 2 ** 52

/**
 * TraceIdRatioBased as the specification describes it: a trace is sampled
 * when a number taken from its id falls below ratio × the range, so every
 * service that sees the same trace id and ratio decides alike. W3C trace ids
 * are random in their low bits.
 */
const byRatio = (ratio: number) => {
  const bound = ratio * scale
  return (traceId: string) => ratio >= 1 || (ratio > 0 && Number.parseInt(traceId.slice(-13), 16) < bound)
}

export const makeSampler = (kind: SamplerKind, ratio: number): Sampler => {
  const root = kind === "always_on" || kind === "parentbased_always_on"
    ? () => true
    : kind === "always_off" || kind === "parentbased_always_off"
    ? () => false
    : byRatio(ratio)
  return kind.startsWith("parentbased_")
    ? (parentSampled, traceId) => parentSampled ?? root(traceId)
    : (_, traceId) => root(traceId)
}
