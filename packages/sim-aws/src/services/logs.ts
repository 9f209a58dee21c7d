import type { Simulator } from "../sim.js";
import { groupHandlers } from "./logs-groups.js";
import { LogsStore, groupMissing, type LogsState } from "./logs-store.js";
import { streamHandlers } from "./logs-streams.js";

/** CloudWatch Logs (JSON 1.1), and the sink other services write container output through. */
export function register(sim: Simulator): void {
  const store = new LogsStore(sim, sim.state<LogsState>("logs", { groups: {}, uploads: 0 }));
  sim.registerJson("Logs_20140328", "logs", { ...groupHandlers(store), ...streamHandlers(store) });

  /** per stream, when its last delayed batch is due: batches arrive in order (fault "logs:Ingest") */
  const dueAt = new Map<string, number>();
  // the awslogs driver and Lambda create the stream (and, when allowed, the group) when missing, then append
  sim.logSink = {
    append(group, stream, events, opts = {}) {
      let g = store.groups[group];
      if (!g) {
        if (opts.createGroup === false) throw groupMissing();
        g = store.createGroup(group, opts.region ?? sim.opts.region);
      }
      const s = g.streams[stream] ?? store.createStream(g, stream);
      // AWS rejects empty messages; the drivers skip them
      const batch = events.filter((e) => e.message.length > 0);
      if (!batch.length) return;
      const key = `${group}\0${stream}`;
      const delay = sim.faults.delayOf("logs", "Ingest");
      const due = Math.max(Date.now() + delay, dueAt.get(key) ?? 0);
      if (due <= Date.now()) return store.append(s, batch);
      dueAt.set(key, due);
      setTimeout(() => {
        if (dueAt.get(key) === due) dueAt.delete(key);
        // the stream may be gone meanwhile (DeleteLogStream): then the batch goes nowhere
        if (store.groups[group]?.streams[stream] === s) store.append(s, batch);
      }, due - Date.now());
    },
  };
}
