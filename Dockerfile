# ngx_chat on Debian 12: builds the module and runs the system (make run).
#   docker build -t ngx_chat . && docker run --rm -p 8080:8080 ngx_chat
# No secret is in the image: the first run generates the token secret (and
# Redis's password) into its state dir; a token: docker exec <container>
# scripts/chat-token alice. Give a volume at /src/ngx_chat/state to keep them.
FROM debian:12

WORKDIR /src/ngx_chat
COPY . .

RUN scripts/deps && make module && rm -rf /var/lib/apt/lists/*

# development runs listen on 127.0.0.1; in a container, every interface
ENV CHAT_ADDR=0.0.0.0 CHAT_PORT=8080
EXPOSE 8080
CMD ["make", "run"]
