module github.com/recallledger/recall

go 1.26.8
