# syntax=docker/dockerfile:1
# Nexus Platform: one image for the gateway, every subgraph and the migration job.
#   docker build -t nexus-platform .
#   docker run ... nexus-platform node dist/app/cli/start.js <gateway|identity|tenancy|commerce|ledger|messaging|intelligence>
#   docker run ... nexus-platform node dist/app/cli/migrate.js

# --- build: all dependencies, compile TypeScript to dist/, then drop dev dependencies ---
FROM node:20-bookworm-slim AS build
WORKDIR /app

COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund

COPY tsconfig.json tsconfig.build.json ./
COPY app ./app
COPY kernel ./kernel
COPY gateway ./gateway
COPY subgraphs ./subgraphs
COPY migrations ./migrations
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# --- runtime: production dependencies, compiled code and the supergraph schema ---
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0
WORKDIR /app

COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The gateway reads SUPERGRAPH_PATH (default schema/supergraph.graphql) relative to /app.
COPY schema ./schema

# NEXUS_DATA_DIR (.nexus) is the only place the platform writes to (embedded database, dev keys).
RUN mkdir -p /app/.nexus && chown node:node /app/.nexus
USER node

# gateway 4000, identity 4001, tenancy 4002, commerce 4003, ledger 4004, messaging 4005, intelligence 4006
EXPOSE 4000-4006

# Default: everything in one process (set DATABASE_URL, or an embedded database is used).
CMD ["node", "dist/app/cli/start.js", "all"]
