DROP INDEX answers_thread_live;
