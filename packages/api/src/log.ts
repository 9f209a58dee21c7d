import { pino } from "pino";

/** The process-wide logger; level set by `sockerless serve --log-level`. */
export const log = pino({ level: process.env.SOCKERLESS_LOG_LEVEL ?? "info" });
