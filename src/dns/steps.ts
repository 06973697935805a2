// Long jobs written as generators that yield every few thousand items: run at once where nothing
// else waits (a worker thread, tools), or in slices with a turn of the event loop between them
// where queries must keep flowing (the main thread).

export function runSync<T>(steps: Generator<void, T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

export async function runSliced<T>(steps: Generator<void, T>): Promise<T> {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
