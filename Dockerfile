# syntax=docker/dockerfile:1
#
# Gatehouse container image. Two stages on the official Node 24 image:
#   build    installs every dependency, builds the web portal (web/dist) and compiles src/ to dist/, then prunes
#            the dev dependencies;
#   runtime  only what runs: bin/ and dist/ (the compiled gateway), examples/ (the default config's upstream),
#            web/dist, production node_modules and package.json, as a non-root user.
#
#   docker build -t gatehouse .
#   docker run --rm --init -p 8080:8080 -v gatehouse-data:/data --stop-timeout 30 gatehouse
#
# The package.json devDependency "node" (a pinned Node binary for development) is pruned with the other dev
# dependencies: the image runs its own /usr/local/bin/node, which is the same major version.

FROM node:24-bookworm-slim AS build
WORKDIR /app
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
# Dependencies first, so that a source change does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY bin/ bin/
COPY src/ src/
COPY examples/ examples/
COPY web/ web/
# The portal (vite build web -> web/dist) and the gateway (tsc -p tsconfig.build.json -> dist/). The mkdir keeps the
# runtime COPY valid should there be no portal build.
RUN npm run build --if-present && mkdir -p web/dist
# Production dependencies only (this also removes the pinned "node" devDependency and node_modules/.bin/node),
# and no test files in the image (dist/ has none).
RUN npm prune --omit=dev \
 && find examples -name '*.test.ts' -delete

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# uid/gid 10001: outside the range of the image's own users (node is 1000); Kubernetes runs it with runAsNonRoot.
RUN groupadd --system --gid 10001 gatehouse \
 && useradd --system --uid 10001 --gid gatehouse --home-dir /data --no-create-home --shell /usr/sbin/nologin gatehouse \
 && mkdir -p /data /etc/gatehouse \
 && chown gatehouse:gatehouse /data \
 && chmod 0700 /data
# The code stays owned by root: the gateway can read it, not change it.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=build /app/examples ./examples
COPY --from=build /app/web/dist ./web/dist
COPY deploy/gatehouse.yaml /etc/gatehouse/gatehouse.yaml
USER 10001:10001
# store.path, the audit log and the pinning/admin state of the default config live here.
VOLUME ["/data"]
EXPOSE 8080
# On SIGTERM the gateway stops taking sessions (/readyz answers 503), lets in-flight calls finish within
# server.drainTimeout and stops its upstream processes: give `docker stop -t` more than that.
STOPSIGNAL SIGTERM
# No curl in the slim image: Node's own fetch. /healthz is liveness (the process serves HTTP), not readiness.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The gatehouse command: its #! line runs dist/ with the gateway's Node flags (see bin/gatehouse.mjs).
ENTRYPOINT ["/app/bin/gatehouse.mjs"]
CMD ["start", "-c", "/etc/gatehouse/gatehouse.yaml"]
