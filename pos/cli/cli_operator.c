/*
** cli_operator.c: kassa-operator as a child of a `kassa` command.
**
** `kassa demo` runs a store day against kassa-operator on loopback and
** `kassa init --demo` starts one that stays up for the commands that
** follow; both find the program the same way (next to kassa, or
** $KASSA_OPERATOR), run its admin commands (`keys new`, `fn add`, `issue`)
** on its data directory, and start the server on given ports, waiting
** until every port listens. The contracts are in cli.h.
*/
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "pos/cli/cli.h"

void cli_operator_find(char *path, size_t size)
{
  const char *env = getenv("KASSA_OPERATOR");
  if (env && *env) {
    snprintf(path, size, "%s", env);
    return;
  }
  char self[900];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) n = 0;
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  if (slash) *slash = '\0';
  snprintf(path, size, "%s/kassa-operator", self);
}

uint16_t cli_free_port(void)
{
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t n = sizeof a;
  int s = socket(AF_INET, SOCK_STREAM, 0);
  uint16_t port = 0;
  if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(s, (struct sockaddr *)&a, &n) == 0)
    port = ntohs(a.sin_port);
  if (s >= 0) close(s);
  return port;
}

bool cli_port_open(const char *host, uint16_t port)
{
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host && *host ? host : "127.0.0.1", &a.sin_addr) != 1) return false;
  int s = socket(AF_INET, SOCK_STREAM, 0);
  bool ok = s >= 0 && connect(s, (struct sockaddr *)&a, sizeof a) == 0;
  if (s >= 0) close(s);
  return ok;
}

int cli_operator_run(const char *path, const char *data, char *out, size_t size,
                     const char *const *args)
{
  const char *argv[16] = {path, "--data", data};
  int n = 3, p[2];
  for (; args[n - 3] && n < 15; n++) argv[n] = args[n - 3];
  argv[n] = NULL;
  if (pipe(p) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(p[1], 1);
    close(p[0]);
    execv(path, (char *const *)argv);
    _exit(127);
  }
  close(p[1]);
  size_t got = 0;
  ssize_t r;
  char sink[256];
  while ((r = read(p[0], out && got + 1 < size ? out + got : sink,
                   out && got + 1 < size ? size - got - 1 : sizeof sink)) > 0)
    if (out && got + 1 < size) got += (size_t)r;
  if (out) out[got] = '\0';
  close(p[0]);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

pid_t cli_operator_start(const cli_operator_start_t *o)
{
  char ports[4][8];
  for (int i = 0; i < 4; i++) snprintf(ports[i], sizeof ports[i], "%u", o->ports[i]);
  pid_t pid = fork();
  if (pid == 0) {
    int out = o->log ? open(o->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)
                     : open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (out >= 0) dup2(out, 1);
    if (out >= 0 && o->log) dup2(out, 2);
    if (o->detach) {
      int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (in >= 0) dup2(in, 0);
      setsid(); /* outlives the command that started it, and its terminal */
    }
    execl(o->path, o->path, "--data", o->data, "--ofd-port", ports[0], "--oism-port", ports[1],
          "--keys-port", ports[2], "--http-port", ports[3], "--inn", o->ofd_inn, "--api-key",
          o->api_key, (char *)NULL);
    _exit(127);
  }
  if (pid < 0) return -1;
  for (int i = 0; i < 200; i++) {
    bool up = true;
    for (int k = 0; k < 4; k++) up = up && cli_port_open("127.0.0.1", o->ports[k]);
    if (up) return pid;
    if (waitpid(pid, NULL, WNOHANG) == pid) return -1; /* it exited: ports taken, bad data */
    struct timespec nap = {0, 50000000};
    nanosleep(&nap, NULL);
  }
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
  return -1;
}

void cli_operator_stop(pid_t pid)
{
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
}
