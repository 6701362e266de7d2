// SPDX-License-Identifier: Apache-2.0
/*
 * The corpus replayer: the main() a fuzz target gets when it is built without libFuzzer
 * (gcc, the normal CI build). Each argument is a file or a directory of files; every file is
 * fed once to LLVMFuzzerTestOneInput, in name order, so a finding replays the same way.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long len;

	if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
	    !(buf = malloc((size_t)len + 1)) || fread(buf, 1, (size_t)len, f) != (size_t)len) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		if (f)
			fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	free(buf);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int replay_dir(const char *dir, unsigned *count)
{
	struct dirent **names;
	char path[4096];
	int n = scandir(dir, &names, NULL, by_name), ret = 0;

	if (n < 0) {
		fprintf(stderr, "replay: cannot list %s\n", dir);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			ret |= replay_file(path);
			(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	struct stat st;
	int ret = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		if (stat(argv[i], &st)) {
			fprintf(stderr, "replay: no %s\n", argv[i]);
			ret = -1;
		} else if (S_ISDIR(st.st_mode)) {
			ret |= replay_dir(argv[i], &count);
		} else {
			ret |= replay_file(argv[i]);
			count++;
		}
	}
	printf("replay: %u inputs%s\n", count, ret ? ", some unreadable" : "");
	return ret || !count ? 1 : 0;
}
