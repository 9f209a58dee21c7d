import { AwsError, required } from "../errors.js";
import type { RestHandler, Simulator } from "../sim.js";
import {
  configurationOf,
  invalidValue,
  newFunction,
  touch,
  validation,
  type FunctionRecord,
  type FunctionStore,
} from "./lambda-functions.js";
import { ecrDigest, imageSource } from "./lambda-image.js";
import { prepareImage } from "./lambda-lifecycle.js";
import type { LambdaRuntime } from "./lambda-pool.js";
import { configFields, requireImagePackage } from "./lambda-validate.js";

/** Function CRUD and tags (REST-JSON, /2015-03-31 and /2017-03-31). */
export function lambdaApi(
  sim: Simulator,
  functions: FunctionStore,
  runtime: LambdaRuntime,
): Record<string, RestHandler> {
  const prepare = (f: FunctionRecord) => void prepareImage(sim, functions, runtime, f);

  /** Updates wait for the previous change to land, as on AWS. */
  const assertUpdatable = (f: FunctionRecord) => {
    if (f.state === "Pending")
      throw conflict(
        `The operation cannot be performed at this time. The function is currently in the following state: Pending`,
      );
    if (f.lastUpdateStatus === "InProgress")
      throw conflict(
        `The operation cannot be performed at this time. An update is in progress for resource: ${functions.arn(f.name)}`,
      );
  };
  const checkRevision = (f: FunctionRecord, input: Record<string, any>) => {
    if (input.RevisionId !== undefined && input.RevisionId !== f.revisionId)
      throw new AwsError(
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
        412,
      );
  };
  const functionOfArn = (arn: string) => {
    if (!/^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[a-zA-Z0-9_-]+$/.test(arn))
      throw validation(
        `1 validation error detected: Value '${arn}' at 'resource' failed to satisfy constraint: Member must be a function ARN`,
      );
    return functions.resolve(arn);
  };

  return {
    async CreateFunction(r) {
      const input = await r.json();
      const name = required<string>(input, "FunctionName");
      if (!/^[a-zA-Z0-9_-]{1,64}$/.test(name))
        throw validation(
          `1 validation error detected: Value '${name}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+ and have length less than or equal to 64`,
        );
      required(input, "Role");
      const imageUri = requireImagePackage(input);
      const fields = configFields(input);
      if (functions.get(name)) throw conflict(`Function already exist: ${name}`, "ResourceConflictException");
      const digest = ecrDigest(sim, imageSource(sim, imageUri), imageUri);
      const tags = input.Tags ?? {};
      if (typeof tags !== "object" || Object.values(tags).some((v) => typeof v !== "string"))
        throw validation("Tags must map keys to strings");
      if (input.Architectures !== undefined) {
        const a = input.Architectures;
        if (!Array.isArray(a) || a.length !== 1 || !["x86_64", "arm64"].includes(a[0]))
          throw validation('Architectures must be ["x86_64"] or ["arm64"]');
        fields.architectures = a;
      }
      const f = newFunction(name, imageUri, { ...fields, tags: { ...tags } });
      if (digest) f.codeSha256 = digest.slice("sha256:".length);
      functions.put(f);
      prepare(f);
      return { status: 201, body: configurationOf(functions, f) };
    },

    async ListFunctions(r) {
      const max = r.query.get("MaxItems") ? Number(r.query.get("MaxItems")) : 50;
      if (!Number.isInteger(max) || max < 1 || max > 10000)
        throw validation(
          `1 validation error detected: Value '${r.query.get("MaxItems")}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 10000`,
        );
      const all = functions.list();
      let start = 0;
      const marker = r.query.get("Marker");
      if (marker) {
        start = Number(Buffer.from(marker, "base64url").toString("utf8"));
        if (!Number.isInteger(start) || start < 0) throw invalidValue("Invalid marker");
      }
      const page = all.slice(start, start + max);
      const next =
        start + max < all.length ? Buffer.from(String(start + max)).toString("base64url") : undefined;
      return {
        body: {
          Functions: page.map((f) => configurationOf(functions, f)),
          ...(next ? { NextMarker: next } : {}),
        },
      };
    },

    async GetFunction(r) {
      const f = functions.resolve(r.params.FunctionName, r.query.get("Qualifier"));
      return {
        body: {
          Configuration: configurationOf(functions, f),
          Code: {
            RepositoryType: "ECR",
            ImageUri: f.imageUri,
            ...(f.resolvedImageUri ? { ResolvedImageUri: f.resolvedImageUri } : {}),
          },
          ...(Object.keys(f.tags).length ? { Tags: f.tags } : {}),
        },
      };
    },

    async GetFunctionConfiguration(r) {
      return {
        body: configurationOf(functions, functions.resolve(r.params.FunctionName, r.query.get("Qualifier"))),
      };
    },

    async UpdateFunctionConfiguration(r) {
      const f = functions.resolve(r.params.FunctionName);
      const input = await r.json();
      assertUpdatable(f);
      checkRevision(f, input);
      if (input.Runtime !== undefined || input.Handler !== undefined || input.Layers !== undefined)
        throw invalidValue("Runtime, Handler and Layers do not apply to container-image functions");
      Object.assign(f, configFields(input));
      touch(f);
      // new settings apply to new environments only; AWS reports the update InProgress first
      f.lastUpdateStatus = "InProgress";
      f.lastUpdateStatusReason = "The function is being updated.";
      f.lastUpdateStatusReasonCode = "Updating";
      f.generation++;
      functions.changed();
      const body = configurationOf(functions, f);
      setImmediate(() => {
        if (functions.get(f.name) !== f) return;
        f.lastUpdateStatus = "Successful";
        delete f.lastUpdateStatusReason;
        delete f.lastUpdateStatusReasonCode;
        functions.changed();
        runtime.retire(f.name);
      });
      return { body };
    },

    async UpdateFunctionCode(r) {
      const f = functions.resolve(r.params.FunctionName);
      const input = await r.json();
      if (input.ZipFile !== undefined || input.S3Bucket !== undefined)
        throw invalidValue("Zip packages are not supported by this simulator: use ImageUri");
      const imageUri = required<string>(input, "ImageUri");
      assertUpdatable(f);
      checkRevision(f, input);
      const digest = ecrDigest(sim, imageSource(sim, imageUri), imageUri);
      if (input.DryRun) return { body: configurationOf(functions, f) };
      f.imageUri = imageUri;
      if (digest) f.codeSha256 = digest.slice("sha256:".length);
      delete f.resolvedImageUri;
      touch(f);
      f.lastUpdateStatus = "InProgress";
      f.lastUpdateStatusReason = "The function is being updated.";
      f.lastUpdateStatusReasonCode = "Updating";
      functions.changed();
      prepare(f);
      return { body: configurationOf(functions, f) };
    },

    async DeleteFunction(r) {
      const f = functions.resolve(r.params.FunctionName, r.query.get("Qualifier"));
      functions.delete(f.name);
      await runtime.remove(f.name);
      return { status: 204 };
    },

    async TagResource(r) {
      const f = functionOfArn(r.params.ARN);
      const tags = (await r.json()).Tags;
      if (!tags || typeof tags !== "object" || Object.values(tags).some((v) => typeof v !== "string"))
        throw validation("Tags must map keys to strings");
      Object.assign(f.tags, tags);
      functions.changed();
      return { status: 204 };
    },

    async UntagResource(r) {
      const f = functionOfArn(r.params.ARN);
      const keys = r.query.getAll("tagKeys");
      if (!keys.length)
        throw validation(
          "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null",
        );
      for (const k of keys) delete f.tags[k];
      functions.changed();
      return { status: 204 };
    },

    async ListTags(r) {
      return { body: { Tags: functionOfArn(r.params.ARN).tags } };
    },
  };
}

const conflict = (message: string, code = "ResourceConflictException") => new AwsError(code, message, 409);
