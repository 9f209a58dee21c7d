import { DescribeTasksCommand, type ECSClient, type Task } from "@aws-sdk/client-ecs";
import { log } from "@sockerless/api";

type Listener = (task: Task) => void;

/** A new task is looked at often (starts and short runs are quick), a long-running one every second. */
const TICK_MS = 100;
const SLOW_AFTER_MS = 10_000;
const SLOW_MS = 1000;
const BATCH = 100; // DescribeTasks takes at most 100 tasks

/**
 * One DescribeTasks loop for every task the daemon watches, instead of one per container:
 * listeners get each task's latest description until they stop watching.
 */
export class TaskWatcher {
  private readonly watched = new Map<string, Set<Listener>>();
  /** task ARN -> when it was first watched, when it is next due */
  private readonly due = new Map<string, { since: number; next: number }>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly ecs: ECSClient,
    private readonly cluster: string,
  ) {}

  watch(taskArn: string, l: Listener): () => void {
    let set = this.watched.get(taskArn);
    if (!set) this.watched.set(taskArn, (set = new Set()));
    set.add(l);
    if (!this.due.has(taskArn)) this.due.set(taskArn, { since: Date.now(), next: 0 });
    this.timer ??= setInterval(() => void this.tick(), TICK_MS);
    return () => {
      set.delete(l);
      if (!set.size) {
        this.watched.delete(taskArn);
        this.due.delete(taskArn);
      }
      if (!this.watched.size && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  /** Resolves with the first description that satisfies `done`. */
  until(taskArn: string, done: (t: Task) => boolean): Promise<Task> {
    return new Promise((resolve) => {
      const stop = this.watch(taskArn, (t) => {
        if (!done(t)) return;
        stop();
        resolve(t);
      });
    });
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const now = Date.now();
      const arns = [...this.watched.keys()].filter((a) => (this.due.get(a)?.next ?? 0) <= now);
      for (const a of arns) {
        const d = this.due.get(a)!;
        d.next = now + (now - d.since > SLOW_AFTER_MS ? SLOW_MS : 0);
      }
      for (let i = 0; i < arns.length; i += BATCH) {
        const out = await this.ecs.send(
          new DescribeTasksCommand({ cluster: this.cluster, tasks: arns.slice(i, i + BATCH) }),
        );
        for (const t of out.tasks ?? []) for (const l of [...(this.watched.get(t.taskArn!) ?? [])]) l(t);
        for (const f of out.failures ?? []) {
          // a task ECS no longer knows (expired long after it stopped): nothing more will come
          if (f.reason === "MISSING" && f.arn)
            for (const l of [...(this.watched.get(f.arn) ?? [])])
              l({ taskArn: f.arn, lastStatus: "STOPPED", stoppedReason: "the task is gone from ECS" });
        }
      }
    } catch (e) {
      // the SDK already retried throttling and 5xx; try again at the next tick
      log.warn({ err: e }, "ecs: DescribeTasks failed");
    } finally {
      this.busy = false;
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.watched.clear();
    this.due.clear();
  }
}
