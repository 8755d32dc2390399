# Build: docker build -t nodebird-api .
#
# The image runs as distroless's `nonroot` user (65532:65532) on its default
# SQLite database in /app/data, which the image creates owned by that user.
# Keep the data with a named volume (docker run -v nodebird-data:/app/data
# ...: Docker gives a new named volume the directory's owner); a bind mount
# must be writable by uid 65532. Or use MySQL (DB_DRIVER=mysql, DB_DSN), as
# docker-compose.yml does. Production needs JWT_SECRET and SESSION_SECRET.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/nodebird . \
 && install -d -m 0700 /out/data

# distroless has no shell: the data directory is made in the build stage
# and copied with its owner set.
FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /app
COPY --from=build /out/nodebird /app/nodebird
COPY --from=build --chown=65532:65532 /out/data /app/data
ENV PORT=8002 APP_ENV=production DATA_DIR=/app/data
EXPOSE 8002
USER 65532:65532
ENTRYPOINT ["/app/nodebird"]
