/**
 * A small typed fetch wrapper over the types generated from the OpenAPI document
 * (`schema.d.ts`, by openapi-typescript): paths, methods, parameters, bodies and answers are
 * checked by the compiler; every error arrives as a typed RFC 9457 problem.
 */
import type { components, operations, paths } from "./schema";

export type { components, operations, paths };
export type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];
export type ProblemCode = Problem["code"];
export type ProblemReason = NonNullable<Problem["reason"]>;

type Method = "get" | "post" | "put" | "patch" | "delete";
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
type MethodsOf<P extends keyof paths> = {
  [M in Method]: paths[P][M] extends undefined | never ? never : M;
}[Method];

type Content<R> = R extends { content: infer C } ? C : never;
type JsonOf<C> = C extends { "application/json": infer T } ? T : never;
type FormOf<C> = C extends { "application/x-www-form-urlencoded": infer T } ? T : never;
type Body<O> = O extends { requestBody?: infer B } ? JsonOf<Content<NonNullable<B>>> : never;
type Form<O> = O extends { requestBody?: infer B } ? FormOf<Content<NonNullable<B>>> : never;
type Params<O, K extends "query" | "path" | "header"> = O extends { parameters: infer P }
  ? P extends { [key in K]?: infer Q }
    ? [Q] extends [undefined]
      ? never
      : Q
    : never
  : never;

type SuccessStatus = 200 | 201 | 202 | 204;
/** What a successful call gives: the JSON body of any 2xx, or undefined for 204. */
export type Success<O> = O extends { responses: infer R }
  ? {
      [S in keyof R & SuccessStatus]: S extends 204 ? undefined : JsonOf<Content<R[S]>>;
    }[keyof R & SuccessStatus]
  : never;

type Required_<O> = O extends { requestBody: infer B } ? (undefined extends B ? false : true) : false;
type BodyOptions<O> = [Body<O>] extends [never]
  ? {}
  : Required_<O> extends true
    ? { body: Body<O> }
    : { body?: Body<O> };
type FormOptions<O> = [Form<O>] extends [never]
  ? {}
  : Required_<O> extends true
    ? { form: Form<O> }
    : { form?: Form<O> };

export type RequestOptions<O> = BodyOptions<O> &
  FormOptions<O> &
  ([Params<O, "query">] extends [never] ? {} : { query?: Params<O, "query"> }) &
  ([Params<O, "path">] extends [never] ? {} : { path: Params<O, "path"> }) & {
    headers?: Record<string, string>;
    signal?: AbortSignal;
  };

/** A failed call: the problem the service answered, typed. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(`${status} ${problem.code}${problem.reason ? ` (${problem.reason})` : ""}: ${problem.detail}`);
    this.name = "ApiError";
  }
}

export interface ClientOptions {
  /** Where the service is, e.g. https://api.example.cn (no trailing slash needed). */
  baseUrl: string;
  /** An access token, or a function giving the current one. */
  token?: string | (() => string | undefined);
  /** zh-CN or en: the language of titles, details and descriptions. */
  language?: "zh-CN" | "en";
  fetch?: typeof fetch;
}

function fill(template: string, values: Record<string, unknown> | undefined): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = values?.[name];
    if (value === undefined) throw new Error(`missing path parameter ${name}`);
    return encodeURIComponent(String(value));
  });
}

function search(query: Record<string, unknown> | undefined): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null) params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

export function createClient(options: ClientOptions) {
  const base = options.baseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? fetch;

  async function request<P extends keyof paths, M extends MethodsOf<P>>(
    method: M,
    path: P,
    ...[opts]: {} extends RequestOptions<Operation<P, M>>
      ? [RequestOptions<Operation<P, M>>?]
      : [RequestOptions<Operation<P, M>>]
  ): Promise<Success<Operation<P, M>>> {
    const o = (opts ?? {}) as {
      body?: unknown;
      form?: Record<string, unknown>;
      query?: Record<string, unknown>;
      path?: Record<string, unknown>;
      headers?: Record<string, string>;
      signal?: AbortSignal;
    };
    const headers: Record<string, string> = { Accept: "application/json", ...o.headers };
    const token = typeof options.token === "function" ? options.token() : options.token;
    if (token) headers.Authorization = `Bearer ${token}`;
    if (options.language) headers["Accept-Language"] = options.language;
    let body: string | undefined;
    if (o.form !== undefined) {
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(o.form as Record<string, string>).toString();
    } else if (o.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(o.body);
    }
    const url = base + fill(String(path), o.path) + search(o.query);
    const response = await doFetch(url, {
      method: method.toUpperCase(),
      headers,
      body,
      signal: o.signal,
    });
    if (response.status === 204) return undefined as Success<Operation<P, M>>;
    const text = await response.text();
    const data: unknown = text ? JSON.parse(text) : undefined;
    if (!response.ok) {
      throw new ApiError(response.status, data as Problem);
    }
    return data as Success<Operation<P, M>>;
  }

  return { request };
}

export type Client = ReturnType<typeof createClient>;
