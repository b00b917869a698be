# Vigil in a container. Build: docker build -t vigil .
# Run:   docker run -d --name vigil --restart=always --network host \
#          -v vigil-data:/data -e VIGIL_BOT_TOKEN=... -e VIGIL_PASSPHRASE=... vigil
# (--network host: cameras are on the LAN, and RTSP over UDP and the camera search (multicast) need it;
#  over TCP, with stream URLs typed by hand, a bridge works too.)

# Debian bookworm-slim, Node 20 LTS: glibc for the prebuilt onnxruntime-node and sharp
# binaries (Alpine's musl has no onnxruntime-node build), and the same ffmpeg 5.1 as
# Raspberry Pi OS bookworm, so one image behaves alike on amd64 and arm64 (Pi 4/5).
FROM node:20-bookworm-slim AS build
WORKDIR /app
# onnxruntime-node's postinstall downloads CUDA files; .npmrc's ignore-scripts skips it (CPU bindings ship in the package).
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY models/manifest.json ./models/manifest.json
RUN npm run build
# Vigil's own decoder (src/pipeline/source/lean-decoder.ts), built against Debian's libavcodec;
# the runtime image has the same libraries through its ffmpeg package.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev pkgconf libavcodec-dev libswscale-dev \
 && rm -rf /var/lib/apt/lists/* \
 && sh src/pipeline/source/build-decoder.sh dist/vigil-decode
# The detector is fetched at build time and verified against the manifest's SHA-256;
# weights are never in the repository. Set VIGIL_MODELS_MIRROR to a folder in the build
# context to build without internet.
ARG VIGIL_MODELS_MIRROR=
RUN VIGIL_MODELS_MIRROR=${VIGIL_MODELS_MIRROR} node bin/vigil.js models fetch

FROM node:20-bookworm-slim
# ffmpeg: clips, cameras Vigil's decoder does not read, and the libraries that decoder uses. fonts-dejavu-core: labels on snapshots (sharp renders SVG
# text as empty boxes without a font). tini: PID 1 that forwards SIGTERM and reaps the
# ffmpeg children, so `docker stop` shuts Vigil down cleanly.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg fonts-dejavu-core tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production VIGIL_DATA_DIR=/data
COPY package.json package-lock.json .npmrc ./
# Runtime dependencies only; --ignore-scripts because nothing at runtime needs an install script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=build /app/models ./models
# A dedicated unprivileged user; it owns the data directory and nothing else.
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin vigil \
 && mkdir -p /data && chown vigil:vigil /data && chmod 700 /data
USER vigil
# Everything Vigil keeps (encrypted) lives here.
VOLUME ["/data"]
# Healthy while the running Vigil keeps touching its lock file (every 30 s).
HEALTHCHECK --interval=60s --timeout=10s --start-period=120s --retries=3 CMD ["node", "bin/vigil.js", "health"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/vigil.js"]
CMD ["start"]
