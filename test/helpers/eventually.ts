// The one way a test waits for something: poll until it is there, with a deadline, never a fixed
// sleep. `eventually` returns what the check found (a log event, a mail, a reply) and measures
// how long it took; `quietFor` is the other half, for "did not happen": it waits exactly the time
// the code promises, measured from the event that starts it, and fails the moment it happens.

export interface Waited<T> {
  value: T;
  /** Milliseconds from the call to the check that found it. */
  ms: number;
}

/** "Not yet": undefined, null and false; anything else is the value waited for. */
type Found<T> = Exclude<T, undefined | null | false>;

function found<T>(value: T): value is Found<T> {
  return value !== undefined && value !== null && value !== false;
}

/** Polls `check` every `everyMs` until it returns a value (not undefined, null or false), or throws after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 5000, what = 'condition', everyMs = 25): Promise<Found<T>> {
  return (await eventuallyTimed(check, timeoutMs, what, everyMs)).value;
}

/** eventually, and how long it took. */
export async function eventuallyTimed<T>(check: () => Promise<T> | T, timeoutMs = 5000, what = 'condition', everyMs = 25): Promise<Waited<Found<T>>> {
  const start = Date.now();
  for (;;) {
    const value = await check();
    if (found(value)) return { value, ms: Date.now() - start };
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * "It did not happen": checks `happened` until `promisedMs` after `since` (the moment the event
 * that would cause it took place), and throws as soon as it does. Pass the code's own promise
 * ("within a second"), so a test cannot pass just because it looked too early.
 */
export async function quietFor(happened: () => Promise<unknown> | unknown, promisedMs: number, what: string, since = Date.now(), everyMs = 25): Promise<void> {
  for (;;) {
    if (found(await happened())) throw new Error(`${what} happened ${Date.now() - since} ms after the start`);
    if (Date.now() - since >= promisedMs) return;
    await new Promise((resolve) => setTimeout(resolve, Math.min(everyMs, Math.max(1, since + promisedMs - Date.now()))));
  }
}
