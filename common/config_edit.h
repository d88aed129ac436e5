/* Editing kvmdesk.conf the way an administrator would with an editor: only
 * the lines of the keys that change are touched; every other line, comment,
 * blank line and the key order stay byte for byte.
 *
 * Within [section] (every occurrence of it, if the file repeats it):
 *   - a key that is set has each of its lines rewritten in place: the
 *     indentation, the "key =" part and a trailing comment stay, only the
 *     value changes;
 *   - a key that is set but absent is added after the last key line of the
 *     section's last occurrence (after its header if it has no keys);
 *   - a key that is removed loses every one of its lines;
 *   - a missing section is appended at the end of the file (after a blank
 *     line) when something is to be set in it. */
#pragma once
#include <stddef.h>
#include <sys/types.h>

struct kd_config_change {
	const char *key;
	const char *value; /* NULL removes the key; "" sets it empty */
};

/* Applies changes to text (len bytes, need not end in NUL). On success *out
 * (malloc'd, NUL-terminated) and *out_len hold the new text. -EINVAL with a
 * message in err when text does not parse or a value cannot be written so
 * that the daemons read it back unchanged (a newline, a " #" that would
 * start a comment, leading or trailing blanks, too long); -ENOMEM. */
int kd_config_edit(const char *text, size_t len, const char *section,
		   const struct kd_config_change *changes, size_t n_changes,
		   char **out, size_t *out_len, char *err, size_t err_len);

/* Reads path, applies changes and replaces the file atomically with the
 * same mode, owner and group; a missing file is created with new_mode.
 * Nothing is written when the text does not change. A symbolic link is
 * followed (its target is replaced). On any error the file is untouched;
 * err says why (-EINVAL as above, or the failing system call). */
int kd_config_edit_file(const char *path, const char *section,
			const struct kd_config_change *changes,
			size_t n_changes, mode_t new_mode, char *err,
			size_t err_len);
