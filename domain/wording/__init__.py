"""Every text people read, built in one place from domain facts in the reader's language
(`domain.language`): labels for the domain's enums (`labels`), dates, durations, numbers
and phone numbers (`formatting`), the notices the jobs queue (`notices`), what people are
told of others' doings (`news`), the chat's answers (`render`, `reports`) and the files
(`workbooks`, `charts`). Each front renders the resulting content its own way."""
