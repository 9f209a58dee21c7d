import type { Simulator } from "../sim.js";
import { groupHandlers } from "./logs-groups.js";
import { LogsStore, groupMissing, type LogsState } from "./logs-store.js";
import { streamHandlers } from "./logs-streams.js";

/** CloudWatch Logs (JSON 1.1), and the sink other services write container output through. */
export function register(sim: Simulator): void {
  const store = new LogsStore(sim, sim.state<LogsState>("logs", { groups: {}, uploads: 0 }));
  sim.registerJson("Logs_20140328", "logs", { ...groupHandlers(store), ...streamHandlers(store) });

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
      store.append(
        s,
        events.filter((e) => e.message.length > 0),
      );
    },
  };
}
