/* test_msg_basic.c - the simplest round trips through one queue. */
#include "svipc.h"
#include "t.h"

struct m64 {
	long mtype;
	char text[128];
};

int main(void)
{
	t_setup(30);
	int id = (int)T_OK(svipc_msgget(IPC_PRIVATE, IPC_CREAT | 0600));
	struct m64 s = { 7, "hello" }, r;
	T_OK(svipc_msgsnd(id, &s, 6, 0));
	s.mtype = 3;
	strcpy(s.text, "a message longer than the inline part of a header, spanning segments");
	size_t len = strlen(s.text) + 1;
	T_OK(svipc_msgsnd(id, &s, len, 0));

	struct msqid_ds ds;
	T_OK(svipc_msgctl(id, IPC_STAT, &ds));
	T_EQ(ds.msg_qnum, 2);
	T_EQ(ds.__msg_cbytes, 6 + len);
	T_EQ(ds.msg_lspid, getpid());
	T_EQ(ds.msg_perm.mode, 0600);

	memset(&r, 0, sizeof r);
	T_EQ(svipc_msgrcv(id, &r, sizeof r.text, 3, 0), (long)len);
	T_EQ(r.mtype, 3);
	T_ASSERT(strcmp(r.text, s.text) == 0);
	T_EQ(svipc_msgrcv(id, &r, sizeof r.text, 0, 0), 6);
	T_EQ(r.mtype, 7);
	T_ASSERT(strcmp(r.text, "hello") == 0);
	T_ERR(svipc_msgrcv(id, &r, sizeof r.text, 0, IPC_NOWAIT), ENOMSG);

	T_OK(svipc_msgctl(id, IPC_RMID, NULL));
	T_ERR(svipc_msgsnd(id, &s, 1, 0), EINVAL);
	T_ERR(svipc_msgrcv(id, &r, 1, 0, IPC_NOWAIT), EINVAL);
	return t_done();
}
