import * as Effect from "effect/Effect"
import * as HttpMiddleware from "effect/http/HttpMiddleware"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as IpNetwork from "effect/net/IpNetwork"
import * as NetAddress from "effect/net/NetAddress"
import * as Option from "effect/Option"
import * as Result from "effect/Result"

/** Where a trusted proxy writes the address it received a request from. */
export type ForwardedHeader = "x-forwarded-for" | "forwarded"

// The ranges proxies usually sit in, by the names Express gives them.
const namedRanges: Record<string, ReadonlyArray<string>> = {
  loopback: ["127.0.0.0/8", "::1/128"],
  linklocal: ["169.254.0.0/16", "fe80::/10"],
  uniquelocal: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
}

const network = (entry: string): IpNetwork.IpNetwork | undefined => {
  if (entry.includes("/")) return Result.getOrUndefined(IpNetwork.fromString(entry))
  const address = Result.getOrUndefined(NetAddress.ipFromString(entry))
  if (address === undefined) return undefined
  const canonical = NetAddress.toCanonical(address)
  return IpNetwork.fromAddressUnsafe(canonical, NetAddress.width(canonical))
}

/**
 * TRUST_PROXY: comma-separated addresses (`10.0.0.5`), CIDR ranges
 * (`10.0.0.0/8`, `fd00::/8`) and the names `loopback`, `linklocal` and
 * `uniquelocal`. The first entry that is none of them is the failure.
 */
export const parseTrustedProxies = (setting: string): Result.Result<ReadonlyArray<IpNetwork.IpNetwork>, string> => {
  const networks: Array<IpNetwork.IpNetwork> = []
  for (const entry of setting.split(",").map((part) => part.trim()).filter((part) => part !== "")) {
    const named = namedRanges[entry.toLowerCase()]
    const parsed = named?.map((range) => IpNetwork.fromStringUnsafe(range)) ?? [network(entry)]
    if (parsed.some((range) => range === undefined)) {
      return Result.fail(`"${entry}" is not an IP address, a CIDR range, loopback, linklocal or uniquelocal`)
    }
    networks.push(...parsed as Array<IpNetwork.IpNetwork>)
  }
  return Result.succeed(networks)
}

// -- RFC 7239 ---------------------------------------------------------------

/** `text` cut at each `separator` that is not inside a quoted string (RFC 9110 5.6.4). */
const splitOutsideQuotes = (text: string, separator: string): Array<string> => {
  const parts: Array<string> = []
  let start = 0
  let quoted = false
  for (let index = 0; index < text.length; index++) {
    const char = text.charAt(index)
    if (quoted && char === "\\") index++
    else if (char === '"') quoted = !quoted
    else if (!quoted && char === separator) {
      parts.push(text.slice(start, index))
      start = index + 1
    }
  }
  parts.push(text.slice(start))
  return parts
}

/** The `for=` node of each element of a Forwarded header, in order, as written. */
const forwardedFor = (header: string): Array<string | undefined> =>
  splitOutsideQuotes(header, ",").map((element) => {
    let node: string | undefined
    for (const pair of splitOutsideQuotes(element, ";")) {
      const equals = pair.indexOf("=")
      if (equals > 0 && pair.slice(0, equals).trim().toLowerCase() === "for") {
        node = pair.slice(equals + 1).trim().replace(/^"(.*)"$/, "$1").replace(/\\(.)/g, "$1")
      }
    }
    return node
  })

/** A node's address without brackets or port; undefined for `unknown`, obfuscated names and anything else. */
const nodeAddress = (node: string | undefined): NetAddress.IpAddress | undefined => {
  if (node === undefined) return undefined
  const host = node.startsWith("[") ? node.slice(1, node.indexOf("]")) : node.replace(/:\d+$/, "")
  const address = Result.getOrUndefined(NetAddress.ipFromString(host))
  return address === undefined ? undefined : NetAddress.toCanonical(address)
}

const isIn = (networks: ReadonlyArray<IpNetwork.IpNetwork>) => (address: NetAddress.IpAddress) =>
  networks.some((trusted) => IpNetwork.contains(trusted, address))

/**
 * The RFC 7239 counterpart of HttpMiddleware.xForwardedHeaders, with its
 * rules: only a trusted peer's header is read, walked from the right past
 * trusted proxies to the first address that is not one; a node that is not
 * an address (`unknown`, an obfuscated name) stops the walk and leaves the
 * request as it came.
 */
const forwardedHeaders = (trustedProxies: ReadonlyArray<IpNetwork.IpNetwork>) => {
  const isTrusted = isIn(trustedProxies)
  const resolve = (request: HttpServerRequest.HttpServerRequest) => {
    const peer = nodeAddress(Option.getOrUndefined(request.peerAddress))
    const header = request.headers["forwarded"]
    if (peer === undefined || !isTrusted(peer) || header === undefined) return request
    const nodes = forwardedFor(header).reverse()
    for (const [fromRight, node] of nodes.entries()) {
      const address = nodeAddress(node)
      if (address === undefined) return request
      if (fromRight < nodes.length - 1 && isTrusted(address)) continue
      return request.modify({ remoteAddress: Option.some(NetAddress.formatIp(address)), peerAddress: request.peerAddress })
    }
    return request
  }
  return HttpMiddleware.make((httpApp) => Effect.updateService(httpApp, HttpServerRequest.HttpServerRequest, resolve))
}

/**
 * Behind a proxy, every request comes from the proxy: the client's address
 * is in the header the proxy adds, which only a peer in `trustedProxies` may
 * set (a client that sends it straight to the service is not believed).
 * Names the request's `remoteAddress`, which the rate limit, the access log
 * and the server span read; `peerAddress` stays the TCP peer.
 */
export const trustedProxyMiddleware = (trustedProxies: ReadonlyArray<IpNetwork.IpNetwork>, header: ForwardedHeader) =>
  header === "forwarded" ? forwardedHeaders(trustedProxies) : HttpMiddleware.xForwardedHeaders({ trustedProxies })
