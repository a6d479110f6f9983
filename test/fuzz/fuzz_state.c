/* libFuzzer target: the text of a state set (set.annotations), as a later call reads it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *words[] = { "", "k", "ColdStart", "k1" };
	const char *text = (const char *)data;

	for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
		size_t count, whole, lines = 0, len = strlen(words[w]);
		int found = state_set_find(text, size, words[w], &count, &whole), seen = 0;

		/* What is counted ends in a newline; what follows has none. */
		if (whole > size || (whole > 0 && text[whole - 1] != '\n') ||
		    memchr(text + whole, '\n', size - whole) != NULL)
			abort();
		for (size_t i = 0, start = 0; i < whole; i++) {
			if (text[i] != '\n')
				continue;
			lines++;
			seen |= i - start == len && memcmp(text + start, words[w], len) == 0;
			start = i + 1;
		}
		if (lines != count || seen != found)
			abort();
	}
	return 0;
}
