/*
 * cgroup.c - a cgroup v2 per handler: see cgroup.h.
 *
 * Everything goes through directory descriptors below cg->fd, so a
 * cgroup's name is only ever looked up in our own directory. The files
 * read here (/proc/self/cgroup, /proc/self/mountinfo, cgroup.events) are
 * small and read whole.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cgroup.h"
#include "util.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CGROUP_PROBE "probe@0"

static int
cgroup_write(int dirfd, const char *name, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;
	int fd, r = 0;

	fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	do
		n = write(fd, s, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		r = -errno;
	else if ((size_t)n != len)
		r = -EIO;
	close(fd);
	return r;
}

/* mountinfo escapes blanks and backslashes as \ooo; undo it in place. */
static void
cgroup_unescape(char *s)
{
	char *o = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				      (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/*
 * The first cgroup2 mount: its mount point, and the cgroup path it shows
 * at that point (its "root", "/" unless mounted from inside a cgroup).
 */
static int
cgroup_mount(char point[PATH_MAX], char root[PATH_MAX])
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int r = -ENOENT;

	if (f == NULL)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		/* id parent maj:min root point opts [tags...] - type src */
		char *sep = strstr(line, " - ");
		char *f4, *f5, *save = NULL;

		if (sep == NULL || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		*sep = '\0';
		if (strtok_r(line, " ", &save) == NULL ||
		    strtok_r(NULL, " ", &save) == NULL ||
		    strtok_r(NULL, " ", &save) == NULL ||
		    (f4 = strtok_r(NULL, " ", &save)) == NULL ||
		    (f5 = strtok_r(NULL, " ", &save)) == NULL)
			continue;
		cgroup_unescape(f4);
		cgroup_unescape(f5);
		if (strlen(f4) >= PATH_MAX || strlen(f5) >= PATH_MAX)
			continue;
		strcpy(root, f4);
		strcpy(point, f5);
		r = 0;
		break;
	}
	free(line);
	fclose(f);
	return r;
}

/* The cgroup v2 path of pid ("0::/path"), as the kernel gives it. */
static int
cgroup_proc_path(pid_t pid, char path[PATH_MAX])
{
	char file[64], buf[PATH_MAX + 64], *p, *nl;
	int r;

	if (pid == 0)
		snprintf(file, sizeof(file), "/proc/self/cgroup");
	else
		snprintf(file, sizeof(file), "/proc/%d/cgroup", (int)pid);
	if ((r = util_file_read_at(AT_FDCWD, file, buf, sizeof(buf), NULL)) < 0)
		return r == -ENOENT ? -ESRCH : r;
	for (p = buf; p != NULL && *p != '\0'; p = nl) {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		if (strncmp(p, "0::", 3) == 0) {
			if (strlen(p + 3) >= PATH_MAX)
				return -ENAMETOOLONG;
			strcpy(path, p + 3);
			return 0;
		}
	}
	return -ENOENT; /* cgroup v1 only */
}

static void
cgroup_init(struct cgroups *cg)
{
	cg->fd = cg->parent_fd = -1;
	cg->leaf[0] = cg->path[0] = cg->rel[0] = '\0';
	cg->dying = NULL;
	cg->ndying = 0;
	cg->idle = NULL;
	cg->nidle = 0;
}

int
cgroup_open(struct cgroups *cg, dev_t dev, ino_t ino, char *err,
	    size_t errlen)
{
	char point[PATH_MAX], root[PATH_MAX], self[PATH_MAX], mine[64];
	char parent[PATH_MAX];
	const char *rel;
	struct statfs sfs;
	int dirfd = -1, fd = -1, r;

	cgroup_init(cg);
	if ((r = cgroup_mount(point, root)) < 0) {
		util_seterr(err, errlen, "no cgroup2 file system is mounted");
		return r;
	}
	if ((r = cgroup_proc_path(0, self)) < 0) {
		util_seterr(err, errlen, "/proc/self/cgroup: %s", r == -ENOENT ?
			    "no cgroup v2 entry" : strerror(-r));
		return r;
	}
	/* Mounted inside a cgroup namespace's view: strip its root. */
	rel = self;
	if (strcmp(root, "/") != 0) {
		size_t n = strlen(root);
		if (strncmp(self, root, n) != 0 ||
		    (self[n] != '/' && self[n] != '\0')) {
			util_seterr(err, errlen, "our cgroup %s is not under "
				    "the cgroup2 mount at %s", self, point);
			return -ENOENT;
		}
		rel = self + n;
	}
	snprintf(mine, sizeof(mine), "syncspool.%llu.%llu",
		 (unsigned long long)dev, (unsigned long long)ino);
	if ((size_t)snprintf(parent, sizeof(parent), "%s%s", point,
			     strcmp(rel, "/") == 0 ? "" : rel) >=
		    sizeof(parent) ||
	    (size_t)snprintf(cg->path, sizeof(cg->path), "%s/%s", parent,
			     mine) >= sizeof(cg->path) ||
	    (size_t)snprintf(cg->rel, sizeof(cg->rel), "%s%s%s", self,
			     strcmp(self, "/") == 0 ? "" : "/", mine) >=
		    sizeof(cg->rel)) {
		util_seterr(err, errlen, "the cgroup path is too long");
		r = -ENAMETOOLONG;
		goto fail;
	}
	dirfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		r = -errno;
		util_seterr(err, errlen, "%s: %s", parent, strerror(-r));
		goto fail;
	}
	if (fstatfs(dirfd, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		r = -ENOTDIR;
		util_seterr(err, errlen, "%s is not a cgroup2 directory",
			    parent);
		goto fail;
	}
	if (mkdirat(dirfd, mine, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		util_seterr(err, errlen, "cannot make a cgroup in %s: %s%s",
			    parent, strerror(-r), r == -EACCES || r == -EPERM ||
			    r == -EROFS ? " (run as root, or under systemd "
			    "with Delegate=yes)" : "");
		goto fail;
	}
	fd = openat(dirfd, mine, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
				 O_NOFOLLOW);
	if (fd < 0) {
		r = -errno;
		util_seterr(err, errlen, "%s: %s", cg->path, strerror(-r));
		goto fail;
	}
	/* cgroup.kill is Linux 5.14's; without it a cgroup is no better. */
	if (faccessat(fd, "cgroup.kill", W_OK, AT_EACCESS) < 0) {
		r = -errno;
		util_seterr(err, errlen, "%s/cgroup.kill: %s%s", cg->path,
			    strerror(-r), r == -ENOENT ? " (Linux 5.14 or "
			    "later kills a cgroup)" : "");
		goto fail;
	}
	/* A child cgroup we may make, fill and remove. */
	(void)unlinkat(fd, CGROUP_PROBE, AT_REMOVEDIR);
	if (mkdirat(fd, CGROUP_PROBE, 0755) < 0) {
		r = -errno;
		util_seterr(err, errlen, "cannot make a cgroup in %s: %s",
			    cg->path, strerror(-r));
		goto fail;
	}
	r = faccessat(fd, CGROUP_PROBE "/cgroup.procs", W_OK, AT_EACCESS);
	r = r < 0 ? -errno : 0;
	(void)unlinkat(fd, CGROUP_PROBE, AT_REMOVEDIR);
	if (r < 0) {
		util_seterr(err, errlen, "cannot move processes into cgroups "
			    "of %s: %s", cg->path, strerror(-r));
		goto fail;
	}
	cg->dying = calloc(CGROUP_DYING_MAX, sizeof(*cg->dying));
	cg->idle = calloc(CGROUP_IDLE_MAX, sizeof(*cg->idle));
	if (cg->dying == NULL || cg->idle == NULL) {
		free(cg->dying);
		free(cg->idle);
		r = -ENOMEM;
		util_seterr(err, errlen, "out of memory");
		goto fail;
	}
	cg->fd = fd;
	cg->parent_fd = dirfd;
	strcpy(cg->leaf, mine);
	return 0;
fail:
	if (dirfd >= 0)
		close(dirfd);
	if (fd >= 0)
		close(fd);
	cgroup_init(cg);
	return r;
}

void
cgroup_close(struct cgroups *cg, bool remove)
{
	/* Idle ones are empty: they go in any case. */
	for (size_t i = 0; i < cg->nidle; i++) {
		close(cg->idle[i].fd);
		(void)unlinkat(cg->fd, cg->idle[i].name, AT_REMOVEDIR);
	}
	cg->nidle = 0;
	if (cg->fd >= 0) {
		if (remove && cgroup_sweep(cg) == 0)
			(void)unlinkat(cg->parent_fd, cg->leaf, AT_REMOVEDIR);
		close(cg->fd);
		close(cg->parent_fd);
	}
	free(cg->dying);
	free(cg->idle);
	cgroup_init(cg);
}

static bool
cgroup_name_ours(const char *name)
{
	return name[0] != '.' && strchr(name, '@') != NULL &&
	       strcmp(name, CGROUP_PROBE) != 0 &&
	       strlen(name) <= CGROUP_NAME_MAX;
}

int
cgroup_make(struct cgroups *cg, const char *name, int *fd)
{
	*fd = -1;
	if (cg->fd < 0)
		return -ENOTCONN;
	if (!cgroup_name_ours(name) || strchr(name, '/') != NULL)
		return -EINVAL;
	if (mkdirat(cg->fd, name, 0755) < 0)
		return -errno;
	*fd = openat(cg->fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
				   O_NOFOLLOW);
	if (*fd < 0) {
		int r = -errno;
		(void)unlinkat(cg->fd, name, AT_REMOVEDIR);
		return r;
	}
	return 0;
}

int
cgroup_reuse(struct cgroups *cg, char name[CGROUP_NAME_MAX + 1], int *fd)
{
	struct cgroup_idle *c;

	*fd = -1;
	if (cg->fd < 0 || cg->nidle == 0)
		return -ENOENT;
	/* The most recently used: the likeliest to be warm in the caches. */
	c = &cg->idle[--cg->nidle];
	*fd = c->fd;
	memcpy(name, c->name, sizeof(c->name));
	return 0;
}

void
cgroup_release(struct cgroups *cg, const char *name, bool killed, bool keep,
	       int empty_fd)
{
	struct cgroup_idle *c;
	int fd = empty_fd;

	if (cg->fd < 0 || name[0] == '\0')
		goto remove;
	if (killed || !keep || cg->nidle == CGROUP_IDLE_MAX)
		goto remove;
	if (fd < 0) {
		fd = openat(cg->fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
					  O_NOFOLLOW);
		if (fd < 0)
			goto remove;
		if (cgroup_populated(fd) != 0)
			goto remove;
	}
	c = &cg->idle[cg->nidle++];
	c->fd = fd;
	snprintf(c->name, sizeof(c->name), "%s", name);
	return;
remove:
	if (fd >= 0)
		close(fd);
	if (cg->fd >= 0 && name[0] != '\0')
		cgroup_remove(cg, name);
}

int
cgroup_place(int fd, pid_t pid)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	return cgroup_write(fd, "cgroup.procs", buf);
}

int
cgroup_kill(int fd)
{
	return cgroup_write(fd, "cgroup.kill", "1\n");
}

int
cgroup_populated(int fd)
{
	char buf[256], *p;
	int r;

	if ((r = util_file_read_at(fd, "cgroup.events", buf,
				    sizeof(buf), NULL)) < 0)
		return r;
	p = strstr(buf, "populated ");
	if (p == NULL || (p != buf && p[-1] != '\n'))
		return -EIO;
	return p[10] == '1' ? 1 : 0;
}

void
cgroup_remove(struct cgroups *cg, const char *name)
{
	if (cg->fd < 0 || name[0] == '\0')
		return;
	if (unlinkat(cg->fd, name, AT_REMOVEDIR) == 0 || errno != EBUSY)
		return;
	for (size_t i = 0; i < cg->ndying; i++)
		if (strcmp(cg->dying[i], name) == 0)
			return;
	if (cg->ndying < CGROUP_DYING_MAX)
		snprintf(cg->dying[cg->ndying++], CGROUP_NAME_MAX + 1, "%s",
			 name);
}

size_t
cgroup_sweep(struct cgroups *cg)
{
	size_t i = 0;

	while (i < cg->ndying) {
		if (unlinkat(cg->fd, cg->dying[i], AT_REMOVEDIR) == 0 ||
		    errno != EBUSY) {
			cg->ndying--;
			if (i != cg->ndying)
				memcpy(cg->dying[i], cg->dying[cg->ndying],
				       sizeof(cg->dying[i]));
			continue;
		}
		i++;
	}
	return cg->ndying;
}

int
cgroup_of(const struct cgroups *cg, pid_t pid, char name[CGROUP_NAME_MAX + 1],
	  int *fd)
{
	char path[PATH_MAX];
	size_t n = strlen(cg->rel);
	const char *leaf;
	int r;

	*fd = -1;
	if (cg->fd < 0)
		return -ENOENT;
	if ((r = cgroup_proc_path(pid, path)) < 0)
		return r;
	if (strncmp(path, cg->rel, n) != 0 || path[n] != '/')
		return -ENOENT;
	leaf = path + n + 1;
	if (strchr(leaf, '/') != NULL || !cgroup_name_ours(leaf))
		return -ENOENT;
	*fd = openat(cg->fd, leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
				   O_NOFOLLOW);
	if (*fd < 0)
		return -errno;
	strcpy(name, leaf);
	return 0;
}

int
cgroup_clear(struct cgroups *cg, bool (*keep)(const char *name, void *arg),
	     void *arg, size_t *killed)
{
	struct dirent *de;
	DIR *d;
	int fd;

	*killed = 0;
	if (cg->fd < 0)
		return 0;
	fd = openat(cg->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		int r = -errno;
		if (fd >= 0)
			close(fd);
		return r;
	}
	while ((de = readdir(d)) != NULL) {
		int cfd;

		if (de->d_type != DT_DIR || !cgroup_name_ours(de->d_name) ||
		    (keep != NULL && keep(de->d_name, arg)))
			continue;
		cfd = openat(cg->fd, de->d_name, O_RDONLY | O_DIRECTORY |
						 O_CLOEXEC | O_NOFOLLOW);
		if (cfd < 0)
			continue;
		if (cgroup_populated(cfd) == 1) {
			(*killed)++;
			(void)cgroup_kill(cfd);
		}
		close(cfd);
		cgroup_remove(cg, de->d_name);
	}
	closedir(d);
	return 0;
}
