// The zone worker's share of the CPU while it reads, signs and builds a zone. Under load the
// worker competes with the UDP receiver threads, the main thread and whatever else runs on the
// box; on 2 cores the signed 100,000-record zone's reload took 2-2.5 times its CPU in wall time,
// and that wall time is what "save → answered" waits for. So while a job runs the worker thread
// gets a lower nice value (Linux keeps nice per thread: setpriority(PRIO_PROCESS, tid)), and its
// own back once the result is posted; the main thread does the same for the length of a reload
// (supervisor.ts), as it takes the result in, swaps it and answers the first questions for the
// new data. Lowering a nice value needs CAP_SYS_NICE (root has it); without it nothing changes
// and the reload runs at the ordinary share, as before. Not realtime scheduling: a reload that
// never ended could then starve the box; with a nice value the other threads still run.

import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/**
 * The nice value of a reload's threads: weighs about 3 times a nice-0 thread (CFS's table), not
 * realtime. -10 (about 9 times) was tried: under load from other sessions the UDP receivers, which
 * yield to a runnable thread of higher weight between batches, then fell behind and the socket
 * dropped queries (about 300 in 2 of 8 signed-edit runs); -5 leaves them a share.
 */
export const JOB_NICE = -5;

export interface ThreadPriority {
  /** The kernel's id of this thread, when it could be found. */
  readonly tid: number | undefined;
  /** Whether the job's nice value could be set (false without CAP_SYS_NICE, or off Linux). */
  readonly raised: boolean;
  /** Gives the thread the job's share; returns whether it could. */
  raise(): boolean;
  /** Gives the thread back the nice value it had before. */
  restore(): void;
}

/** This thread's kernel id: /proc/thread-self names it (Linux 3.17+). Read once, at start. */
function currentTid(): number | undefined {
  try {
    const m = /\/task\/(\d+)$/.exec(readlinkSync('/proc/thread-self'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The priority control of the calling thread (call it in that thread). `nice`: the job's value. */
export function threadPriority(nice = JOB_NICE): ThreadPriority {
  const tid = currentTid();
  let usual: number | undefined;
  let raised = false;
  return {
    tid,
    get raised() {
      return raised;
    },
    raise() {
      if (tid === undefined || raised) return raised;
      try {
        usual ??= getPriority(tid);
        if (nice >= usual) return false;
        setPriority(tid, nice);
        raised = true;
      } catch {
        // EACCES/EPERM without CAP_SYS_NICE: the job runs at the usual share.
      }
      return raised;
    },
    restore() {
      if (!raised || tid === undefined || usual === undefined) return;
      raised = false;
      try {
        setPriority(tid, usual);
      } catch {
        // Raising a nice value is always allowed; nothing to do if the thread is gone.
      }
    },
  };
}
