import { EventEmitter } from "node:events";
import { checkFilterKeys, type Filters, matchLabels } from "./util.js";

export interface DockerEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: "local";
  time: number;
  timeNano: number;
  // Legacy fields the CLI still reads for containers.
  status?: string;
  id?: string;
  from?: string;
}

const KEEP = 1000;

/** Event log with live subscribers. Subscribers get every event (no dropping); the last KEEP are kept for `since`. */
export class EventBus {
  private readonly recent: DockerEvent[] = [];
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  emit(type: string, action: string, id: string, attributes: Record<string, string> = {}): void {
    const ns = BigInt(Date.now()) * 1_000_000n;
    const ev: DockerEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: "local",
      time: Number(ns / 1_000_000_000n),
      timeNano: Number(ns),
    };
    if (type === "container" || type === "image") {
      ev.status = action;
      ev.id = id;
      if (attributes.image) ev.from = attributes.image;
    }
    this.recent.push(ev);
    if (this.recent.length > KEEP) this.recent.shift();
    this.emitter.emit("event", ev);
  }

  history(): DockerEvent[] {
    return [...this.recent];
  }

  subscribe(listener: (ev: DockerEvent) => void): () => void {
    this.emitter.on("event", listener);
    return () => this.emitter.off("event", listener);
  }
}

const EVENT_FILTERS = [
  "type",
  "container",
  "image",
  "label",
  "event",
  "network",
  "volume",
  "scope",
  "daemon",
];

export function eventMatcher(filters: Filters): (ev: DockerEvent) => boolean {
  checkFilterKeys(filters, EVENT_FILTERS);
  const any = (key: string, pred: (v: string) => boolean) => {
    const vals = filters.get(key);
    return !vals || vals.length === 0 || vals.some(pred);
  };
  return (ev) => {
    const a = ev.Actor.Attributes;
    const action = ev.Action.split(":")[0];
    return (
      any("type", (v) => v === ev.Type) &&
      any("event", (v) => v === ev.Action || v === action) &&
      any("container", (v) => ev.Type === "container" && (ev.Actor.ID.startsWith(v) || a.name === v)) &&
      any("image", (v) => a.image === v || (ev.Type === "image" && (ev.Actor.ID === v || a.name === v))) &&
      any("network", (v) => ev.Type === "network" && (ev.Actor.ID.startsWith(v) || a.name === v)) &&
      any("volume", (v) => ev.Type === "volume" && ev.Actor.ID === v) &&
      any("scope", (v) => v === "local") &&
      matchLabels(a, filters.get("label"))
    );
  };
}
