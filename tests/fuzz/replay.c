// A main() for fuzz targets built without libFuzzer: runs the target once on
// every file named on the command line (directories are read one level deep),
// so the checked-in corpus is a regression test in the normal suite.
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return 1;
  }
  uint8_t *buf = NULL;
  size_t size = 0, cap = 0;
  for (;;) {
    if (size == cap) {
      cap = cap ? cap * 2 : 4096;
      uint8_t *grown = realloc(buf, cap);
      if (!grown) {
        fclose(f);
        free(buf);
        fprintf(stderr, "%s: out of memory\n", path);
        return 1;
      }
      buf = grown;
    }
    size_t n = fread(buf + size, 1, cap - size, f);
    if (n == 0) break;
    size += n;
  }
  int err = ferror(f);
  fclose(f);
  if (err) {
    free(buf);
    fprintf(stderr, "%s: read error\n", path);
    return 1;
  }
  LLVMFuzzerTestOneInput(buf, size);
  free(buf);
  return 0;
}

int main(int argc, char **argv) {
  int failures = 0, runs = 0;
  for (int i = 1; i < argc; i++) {
    struct stat sb;
    if (stat(argv[i], &sb) != 0) {
      perror(argv[i]);
      return 1;
    }
    if (!S_ISDIR(sb.st_mode)) {
      failures += run_file(argv[i]);
      runs++;
      continue;
    }
    DIR *d = opendir(argv[i]);
    if (!d) {
      perror(argv[i]);
      return 1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.') continue;
      char path[4096];
      snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
      failures += run_file(path);
      runs++;
    }
    closedir(d);
  }
  printf("replayed %d inputs, %d unreadable\n", runs, failures);
  return failures ? 1 : 0;
}
