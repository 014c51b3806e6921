// Preloaded into a server under test (node --expose-gc --require ...): on
// SIGUSR2 it collects garbage and prints the heap that is left.
process.on("SIGUSR2", () => {
  const gc = globalThis.gc
  if (gc === undefined) throw new Error("heap-probe needs node --expose-gc")
  gc()
  gc()
  process.stdout.write(JSON.stringify({ message: "heap after gc", heapUsed: process.memoryUsage().heapUsed }) + "\n")
})
