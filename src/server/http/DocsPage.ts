import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpApiScalar from "effect/http-api/HttpApiScalar"
import * as Scope from "effect/Scope"
import { Api } from "../../api/Api.ts"

/**
 * `/docs`: Effect's Scalar API reference, with its script inlined so the page
 * needs no network. HttpApiScalar loads that 3.2 MB script when its layer is
 * built; building the layer on the first view instead keeps the script out of
 * start-up time and out of the memory of a server whose docs nobody reads.
 */
export const layer = (path: `/${string}`) =>
  HttpRouter.use(Effect.fnUntraced(function*(router) {
    const scope = yield* Effect.scope
    // A router of its own: the page's layer registers the same path.
    const page = yield* Effect.cached(
      Layer.build(
        HttpApiScalar.layer(Api, { path, scalar: { withDefaultFonts: false } }).pipe(
          Layer.provideMerge(Layer.fresh(HttpRouter.layer))
        )
      ).pipe(
        Effect.map((context) => Context.get(context, HttpRouter.HttpRouter).asHttpEffect()),
        Scope.provide(scope)
      )
    )
    yield* router.add("GET", path, Effect.flatten(page))
  }))
