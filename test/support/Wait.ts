/** Polls until `check` holds, and says how long that took; fails after `limitMs`. */
export const waitFor = async (check: () => Promise<boolean>, limitMs: number) => {
  const started = performance.now()
  while (performance.now() - started < limitMs) {
    if (await check()) return performance.now() - started
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`Not within ${limitMs} ms`)
}
