# syntax=docker/dockerfile:1
#
# One image for both programs: `webhook` (the injector) and `agent` (injected into pods), so the
# injector always injects its own version. Pin the base by digest in your registry mirror:
#   docker build --build-arg NODE_IMAGE=node:24-bookworm-slim@sha256:… .
ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: the full toolchain, thrown away afterwards ---------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency runs code at install time (esbuild finds its platform binary
# through its optional dependency without its postinstall). That also skips the `node`
# devDependency's download of a second Node 24; its dangling bin shim is removed so
# `npm run build` runs this image's Node 24, which strips the TypeScript types itself.
RUN npm ci --ignore-scripts && rm -f node_modules/.bin/node
COPY . .
# The bundle holds every dependency (esbuild, bundle: true): the runtime needs no node_modules,
# hence no `npm ci --omit=dev` there. It holds the entrypoint (dist/cli.js), one file per command
# (dist/commands/: agent, webhook, inject) and, under dist/node_modules/, the packages only some
# runs load; `dev` (a local AWS endpoint for development) is no part of it, and not in this build
# context either. The smoke runs prove the entrypoint and every command load.
RUN npm run build && node dist/cli.js --help > /dev/null
RUN node dist/cli.js agent --help > /dev/null
RUN node dist/cli.js webhook --help > /dev/null
RUN node dist/cli.js inject --help > /dev/null

# --- runtime: Node and the bundle, nothing else ---------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# npm, npx, corepack and yarn are never used at run time: fewer files, fewer CVE reports.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx \
      /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
WORKDIR /app
# The bundle only: CommonJS files (dist/package.json says so) that Node runs as they are; owned
# by root, read-only to the process. Every container runs the entrypoint and passes args only
# (an injected agent: `agent --config-json …`, a sidecar's V8 flags in its NODE_OPTIONS).
COPY --from=build /src/dist ./dist
# Read-only root filesystem: nothing here writes to disk. Node 24 keeps no compile cache unless
# NODE_COMPILE_CACHE is set (it is not); the agent writes only under its mounted volume.
ENV NODE_ENV=production
# uid 65532 has no entry in this image's /etc/passwd, so Node cannot look its home directory up;
# the AWS SDK's shared-config loader asks for one (to look for ~/.aws, which is not there).
ENV HOME=/nonexistent
# The distroless "nonroot" uid/gid, numeric so `runAsNonRoot` can verify it without /etc/passwd.
USER 65532:65532
# 8443 webhook HTTPS, 9090 webhook metrics, 9102 agent health and metrics.
EXPOSE 8443 9090 9102
ENTRYPOINT ["node", "/app/dist/cli.js"]
