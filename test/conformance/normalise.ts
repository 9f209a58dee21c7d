// What legitimately differs between two engines running the same scenario: ids, generated names,
// times, durations, addresses, temporary paths. Everything else must match the reference.

/** Replace the names a scenario made (longest first, so prefixes do not clip longer names). */
function replaceNames(s: string, names: Map<string, string>): string {
  const sorted = [...names.keys()].sort((a, b) => b.length - a.length);
  for (const n of sorted) s = s.replaceAll(n, names.get(n)!);
  return s;
}

export function normalise(s: string, names = new Map<string, string>()): string {
  return (
    replaceNames(s, names)
      .replace(/\b[0-9a-f]{64}\b/g, "<id>")
      .replace(/\b[0-9a-f]{12}\b/g, "<id12>")
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)/g, "<time>")
      .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} [A-Z]+/g, "<time>")
      .replace(
        /\b(Less than a second|About a minute|About an hour|An hour|\d+ (seconds?|minutes?|hours?)) ago\b/g,
        "<ago>",
      )
      .replace(/\bUp (Less than a second|About a minute|\d+ (seconds?|minutes?))\b/g, "Up <duration>")
      // Addresses the engine picks (user-chosen subnets in scenarios are 10.x and stay visible).
      .replace(/\b(172|192\.168)\.\d{1,3}\.\d{1,3}(\.\d{1,3})?\b/g, "<ip>")
  );
}
