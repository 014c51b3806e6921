import { describe, expect, it } from "vitest"
import type { Task, TaskId } from "../../src/domain/Task.ts"
import { type Announcement, fromPayload, sentBy, toPayloads } from "../../src/server/tasks/TaskAnnouncements.ts"

const task = (description: string): Task => ({
  id: "0193a1c4-6f7e-7b3a-9c1d-2f4e5a6b7c8d" as TaskId,
  title: "t\u00e9\u{1F600}",
  description,
  status: "pending",
  created_at: "2026-11-24T10:15:30.123Z",
  updated_at: "2026-11-24T10:15:30.123Z"
})
const announcement = (description: string): Announcement => ({
  from: "instance",
  owner: "alice",
  kind: "UPDATED",
  id: "0193a1c4-6f7e-7b3a-9c1d-2f4e5a6b7c8d",
  task: task(description)
})

describe("announcements between instances", () => {
  it("pack as many events as fit a notification into each payload, and read back as they were", () => {
    const sent = Array.from({ length: 200 }, (_, index) => announcement("\u00e9".repeat(index)))
    const payloads = toPayloads(sent)
    expect(payloads.length).toBeGreaterThan(1)
    expect(payloads.length).toBeLessThan(sent.length)
    for (const payload of payloads) expect(Buffer.byteLength(payload)).toBeLessThan(8000)
    expect(payloads.flatMap(fromPayload)).toEqual(sent)
  })

  it("leave out a task too large for a notification, for the listener to read back", () => {
    const [payload, ...more] = toPayloads([announcement("x".repeat(9_000))])
    expect(more).toEqual([])
    expect(fromPayload(payload!)).toEqual([{ from: "instance", owner: "alice", kind: "UPDATED", id: task("").id }])
  })

  it("tell their sender without being parsed, so that an instance drops its own", () => {
    // Fields in another order than they travel in.
    const [payload] = toPayloads([{ task: null, id: "1", kind: "DELETED", owner: "alice", from: "instance" }])
    expect(sentBy(payload!, "instance")).toBe(true)
    expect(sentBy(payload!, "other")).toBe(false)
    expect(sentBy("probe:1234", "instance")).toBe(false)
  })

  it("ignore a payload that is no batch (the start-up probe)", () => {
    expect(fromPayload("probe:1234")).toEqual([])
  })
})
