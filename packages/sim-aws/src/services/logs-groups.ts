import { AwsError, invalidParameter } from "../errors.js";
import type { JsonHandler } from "../sim.js";
import { RETENTION_DAYS, type LogGroup, type LogsStore } from "./logs-store.js";
import { enumValue, groupName, int, page, str, tags } from "./logs-validate.js";

/** The group named by logGroupName or logGroupIdentifier (a name or an ARN); not both. */
export function groupFrom(store: LogsStore, input: Record<string, any>): LogGroup {
  if (input.logGroupName !== undefined && input.logGroupIdentifier !== undefined)
    throw invalidParameter("LogGroupName and LogGroupIdentifier are mutually exclusive parameters.");
  if (input.logGroupIdentifier !== undefined) {
    const id = str(input, "logGroupIdentifier", { max: 2048 });
    return store.group(id.startsWith("arn:") ? nameFromArn(id) : id);
  }
  return store.group(groupName(input));
}

/** arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*] → NAME */
function nameFromArn(arn: string): string {
  const m = /^arn:aws[\w-]*:logs:[\w-]*:\d*:log-group:([^:]+)(:\*)?$/.exec(arn);
  if (!m) throw invalidParameter(`Invalid ARN: ${arn}`);
  return m[1];
}

function storedBytes(g: LogGroup): number {
  return Object.values(g.streams).reduce((n, s) => n + s.storedBytes, 0);
}

function describe(store: LogsStore, g: LogGroup) {
  const arn = store.groupArn(g);
  return {
    logGroupName: g.name,
    creationTime: g.creationTime,
    retentionInDays: g.retentionInDays,
    metricFilterCount: 0,
    arn: `${arn}:*`,
    logGroupArn: arn,
    storedBytes: storedBytes(g),
    kmsKeyId: g.kmsKeyId,
    logGroupClass: g.logGroupClass,
  };
}

export function groupHandlers(store: LogsStore): Record<string, JsonHandler> {
  /** Tag operations name a group by ARN (TagResource) or by name (the older TagLogGroup). */
  const byArn = (input: Record<string, any>) => {
    const arn = str(input, "resourceArn", { max: 1011 });
    if (!arn.startsWith("arn:")) throw invalidParameter(`Invalid ARN: ${arn}`);
    const g = store.groups[nameFromArn(arn)];
    if (!g) throw new AwsError("ResourceNotFoundException", `The specified resource does not exist.`);
    return g;
  };
  const addTags = (g: LogGroup, t: Record<string, string>) => {
    const merged = { ...g.tags, ...t };
    if (Object.keys(merged).length > 50)
      throw new AwsError("TooManyTagsException", "A resource can have no more than 50 tags.");
    g.tags = merged;
    store.changed();
  };
  const removeTags = (g: LogGroup, keys: unknown) => {
    if (!Array.isArray(keys)) throw invalidParameter("tagKeys must be a list");
    for (const k of keys) delete g.tags[String(k)];
    store.changed();
  };

  return {
    CreateLogGroup(input, call) {
      const name = groupName(input);
      enumValue(input, "logGroupClass", ["STANDARD", "INFREQUENT_ACCESS", "DELIVERY"]);
      const t = tags(input);
      if (store.groups[name])
        throw new AwsError("ResourceAlreadyExistsException", "The specified log group already exists");
      store.createGroup(name, call.region, {
        tags: { ...t },
        kmsKeyId: str(input, "kmsKeyId", { optional: true, max: 256 }),
        logGroupClass: input.logGroupClass ?? "STANDARD",
      });
      return {};
    },

    DeleteLogGroup(input) {
      store.deleteGroup(groupName(input));
      return {};
    },

    DescribeLogGroups(input) {
      const prefix = str(input, "logGroupNamePrefix", { optional: true, max: 512 });
      const pattern = input.logGroupNamePattern as string | undefined;
      if (prefix && pattern)
        throw invalidParameter(
          "LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive parameters.",
        );
      const ids = input.logGroupIdentifiers as string[] | undefined;
      const limit = int(input, "limit", 1, 50) ?? 50;
      enumValue(input, "logGroupClass", ["STANDARD", "INFREQUENT_ACCESS", "DELIVERY"]);
      const groups = Object.values(store.groups).filter(
        (g) =>
          (!prefix || g.name.startsWith(prefix)) &&
          // the pattern is a case-insensitive substring match
          (!pattern || g.name.toLowerCase().includes(pattern.toLowerCase())) &&
          (!input.logGroupClass || g.logGroupClass === input.logGroupClass) &&
          (!ids || ids.some((id) => id === g.name || id === store.groupArn(g))),
      );
      groups.forEach((g) => store.expire(g));
      const p = page(groups, (g) => [g.name], { nextToken: input.nextToken, limit });
      return { logGroups: p.items.map((g) => describe(store, g)), nextToken: p.nextToken };
    },

    PutRetentionPolicy(input) {
      const g = store.group(groupName(input));
      if (input.retentionInDays === undefined || input.retentionInDays === null)
        throw invalidParameter(
          "1 validation error detected: Value null at 'retentionInDays' failed to satisfy constraint: Member must not be null",
        );
      enumValue(input, "retentionInDays", RETENTION_DAYS);
      g.retentionInDays = input.retentionInDays;
      store.expire(g);
      store.changed();
      return {};
    },

    DeleteRetentionPolicy(input) {
      const g = store.group(groupName(input));
      delete g.retentionInDays;
      store.changed();
      return {};
    },

    TagLogGroup(input) {
      const g = store.group(groupName(input));
      addTags(g, tags(input));
      return {};
    },

    UntagLogGroup(input) {
      const g = store.group(groupName(input));
      removeTags(g, input.tags);
      return {};
    },

    ListTagsLogGroup(input) {
      return { tags: { ...store.group(groupName(input)).tags } };
    },

    TagResource(input) {
      const g = byArn(input);
      addTags(g, tags(input));
      return {};
    },

    UntagResource(input) {
      removeTags(byArn(input), input.tagKeys);
      return {};
    },

    ListTagsForResource(input) {
      return { tags: { ...byArn(input).tags } };
    },
  };
}
