/** One Server-Sent Event, or a comment line (`: keep-alive`) as `comment`. */
export interface ServerSentEvent {
  readonly event?: string
  readonly data?: string
  readonly comment?: string
}

/**
 * The events of a `text/event-stream` answer, as they arrive: `next(ms)`
 * resolves with the next event (comments included), or rejects when none
 * comes within `ms`; `ended` resolves once the body ends or fails.
 */
export const readEvents = (response: Response) => {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  const arrived: Array<ServerSentEvent> = []
  const waiting: Array<() => void> = []
  let buffered = ""
  let finished = false
  const ended = (async () => {
    try {
      while (true) {
        const { done, value } = await reader.read()
        if (done) break
        buffered += value
        let end: number
        while ((end = buffered.indexOf("\n\n")) !== -1) {
          arrived.push(parse(buffered.slice(0, end)))
          buffered = buffered.slice(end + 2)
        }
        for (const wake of waiting.splice(0)) wake()
      }
      return "ended" as const
    } catch {
      return "failed" as const
    } finally {
      finished = true
      for (const wake of waiting.splice(0)) wake()
    }
  })()

  const next = async (ms = 2_000): Promise<ServerSentEvent> => {
    const deadline = Date.now() + ms
    while (arrived.length === 0) {
      if (finished) throw new Error("The event stream ended")
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`No event within ${ms} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        waiting.push(() => (clearTimeout(timer), resolve()))
      })
    }
    return arrived.shift()!
  }

  /** The data of the next `next` event, parsed, skipping comments. */
  const nextResult = async (ms = 2_000): Promise<any> => {
    const deadline = Date.now() + ms
    while (true) {
      const event = await next(Math.max(1, deadline - Date.now()))
      if (event.comment === undefined) {
        if (event.event !== "next") throw new Error(`Expected a next event, got ${JSON.stringify(event)}`)
        return JSON.parse(event.data!)
      }
    }
  }

  return { next, nextResult, ended, close: () => reader.cancel().catch(() => {}) }
}

const parse = (block: string): ServerSentEvent => {
  const event: { event?: string; data?: string; comment?: string } = {}
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) event.comment = line.slice(1).trim()
    else if (line.startsWith("event:")) event.event = line.slice(6).trim()
    else if (line.startsWith("data:")) event.data = (event.data === undefined ? "" : event.data + "\n") + line.slice(5).trimStart()
  }
  return event
}

/** The request a graphql-sse client sends to subscribe (distinct connections mode). */
export const subscriptionRequest = (query: string, init: { readonly variables?: unknown; readonly headers?: Record<string, string> } = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", accept: "text/event-stream", ...init.headers },
  body: JSON.stringify({ query, ...(init.variables === undefined ? {} : { variables: init.variables }) })
})

export const taskEventsQuery = "subscription { taskEvents { kind id task { id title status etag } } }"
