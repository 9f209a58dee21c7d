import { notImplemented } from "@sockerless/api";
import type { Handler } from "./context.js";

const messages = new WeakMap<Handler, string>();

/**
 * A handler for an endpoint Sockerless does not support on purpose: it answers 501 with `message`.
 * The message is kept so that the API coverage matrix (scripts/api-coverage.ts) can list it.
 */
export function unsupportedHandler(message: string): Handler {
  const handler: Handler = () => {
    throw notImplemented(message);
  };
  messages.set(handler, message);
  return handler;
}

/** The 501 message of a handler made by unsupportedHandler, else undefined. */
export const unsupportedMessage = (handler: Handler): string | undefined => messages.get(handler);
