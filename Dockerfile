# Build: docker build -t nodebird-api .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/nodebird .

FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /app
COPY --from=build /out/nodebird /app/nodebird
ENV PORT=8002 APP_ENV=production DATA_DIR=/app/data
EXPOSE 8002
USER nonroot:nonroot
ENTRYPOINT ["/app/nodebird"]
