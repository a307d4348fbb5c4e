# bucket-relay: a release build linked with the Swift runtime statically, on Swift's Debian image; shipped on
# debian:bookworm-slim with only libcurl, SQLite and libnats (for --jetstream). Tests/compose/check_dockerfile_build.sh builds exactly this
# stage's context and command without Docker.
FROM swift:6.3-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libcurl4-openssl-dev libsqlite3-dev libnats-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# SwiftPM checks every target's folder, test targets included, before it builds anything: copy them all.
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
# The debug sections go (211 MB to 128 MB); the symbols stay, so a crash's backtrace still names its functions.
RUN swift build -c release --static-swift-stdlib --product bucket-relay \
    && install -D "$(swift build -c release --static-swift-stdlib --show-bin-path)/bucket-relay" out/bucket-relay \
    && strip --strip-debug out/bucket-relay

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libcurl4 libsqlite3-0 libnats3.4 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/bucket-relay bucket-relay \
    && mkdir -p /var/lib/bucket-relay /etc/bucket-relay/rules \
    && chown bucket-relay:bucket-relay /var/lib/bucket-relay && chmod 0700 /var/lib/bucket-relay
COPY --from=build /src/out/bucket-relay /usr/local/bin/bucket-relay
COPY rules /etc/bucket-relay/rules
USER bucket-relay
ENV RELAY_RULES=/etc/bucket-relay/rules RELAY_DATA_DIR=/var/lib/bucket-relay RELAY_PORT=8080
EXPOSE 8080
VOLUME ["/var/lib/bucket-relay"]
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["bucket-relay"]
CMD ["serve"]
