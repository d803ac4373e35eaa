# Production image of the `roster` binary (see docker-compose.yml).
# The builder is pinned to bookworm so the binary's glibc matches the runtime image.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
ENV SQLX_OFFLINE=true
RUN cargo build --release --locked -p roster --bin roster \
 && cp target/release/roster /usr/local/bin/roster

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin roster
COPY --from=build /usr/local/bin/roster /usr/local/bin/roster
USER roster
ENV ROSTER_BIND=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["roster"]
CMD ["serve", "--role", "all"]
