// Q&A rooms (a classroom): students ask, professors answer, one answer per
// question however many professors race for it.
#include <latch>
#include <thread>

#include "fixture.h"

namespace parley::e2e {
namespace {

class QaTest : public StackTest {
 protected:
  Response Answer(Client& c, int64_t question, const std::string& text) {
    return c.Post(MessagePath(question, "/answer"), "{\"text\":" + Quote(text) + "}");
  }
  // Messages of a kind in a room's full history.
  std::vector<Json> OfKind(User& u, int64_t room, const std::string& kind) {
    Response r = u->Get(RoomPath(room, "/messages?limit=200"));
    if (r.status != 200) throw SetupError("history: " + r.Describe());
    std::vector<Json> out;
    for (const Json& m : r.json()["messages"].items()) {
      if (m["kind"].str() == kind) out.push_back(m);
    }
    return out;
  }
};

TEST_F(QaTest, StudentsAskAndProfessorsCannot) {
  User prof = Register("prof");
  User stud = Register("stud");
  int64_t room = CreateRoom(prof, "class", "qa");
  Join(stud, room);

  Json q = Send(stud, room, "What is entropy?");
  EXPECT_EQ(q["kind"].str(), "question") << q.Dump();

  Response p = prof->Post(RoomPath(room, "/messages"), "{\"text\":\"Let me ask you\"}");
  EXPECT_EQ(p.status, 403) << p.Describe();
  EXPECT_EQ(p.ErrorCode(), "professors_cannot_ask");

  // Outside Q&A rooms, messages are plain messages.
  Json plain = Send(prof, General(prof), "hello general");
  EXPECT_EQ(plain["kind"].str(), "message");
}

TEST_F(QaTest, ProfessorAnswersStudentsCannot) {
  User prof = Register("prof");
  User stud = Register("stud");
  User stud2 = Register("stud");
  int64_t room = CreateRoom(prof, "class", "qa");
  Join(stud, room);
  Join(stud2, room);
  const int64_t q = Send(stud, room, "Why is the sky blue?")["id"].num();

  Response by_student = Answer(*stud2, q, "Because of the sea");
  EXPECT_EQ(by_student.status, 403) << by_student.Describe();
  EXPECT_EQ(by_student.ErrorCode(), "not_professor");
  Response by_asker = Answer(*stud, q, "I know!");
  EXPECT_EQ(by_asker.status, 403) << by_asker.Describe();

  Response a = Answer(*prof, q, "Rayleigh scattering.");
  ASSERT_EQ(a.status, 201) << a.Describe();
  Json answer = a.json()["message"];
  EXPECT_EQ(answer["kind"].str(), "answer") << answer.Dump();
  EXPECT_EQ(answer["reply_to"].num(), q) << answer.Dump();
  EXPECT_EQ(answer["room_id"].num(), room);
  EXPECT_EQ(answer["user"]["id"].num(), prof.id);

  // The answer is not a question; an unknown id is unknown.
  Response on_answer = Answer(*prof, answer["id"].num(), "answering the answer");
  EXPECT_EQ(on_answer.status, 400) << on_answer.Describe();
  EXPECT_EQ(on_answer.ErrorCode(), "not_a_question");
  Response unknown = Answer(*prof, 987654321, "to nothing");
  EXPECT_EQ(unknown.status, 404) << unknown.Describe();
  EXPECT_EQ(unknown.ErrorCode(), "message_not_found");

  // A plain message elsewhere is not a question either.
  const int64_t plain = Send(prof, General(prof), "not a question")["id"].num();
  Response on_plain = Answer(*prof, plain, "hm");
  EXPECT_EQ(on_plain.status, 400) << on_plain.Describe();
  EXPECT_EQ(on_plain.ErrorCode(), "not_a_question");
}

// THE race: many professors click "answer" on the same question at the same
// moment, each from their own account and connection.
TEST_F(QaTest, ConcurrentAnswersExactlyOneWins) {
  constexpr int kProfessors = 10;
  User owner = Register("owner");
  User stud = Register("stud");
  int64_t room = CreateRoom(owner, "race", "qa");
  Join(stud, room);
  std::vector<User> profs;
  for (int i = 0; i < kProfessors; ++i) {
    profs.push_back(Register("prof"));
    Join(profs.back(), room);
    SetRole(owner, room, profs.back(), "professor");
  }
  const int64_t q = Send(stud, room, "Who answers first?")["id"].num();

  std::vector<Response> results(kProfessors);
  std::latch ready(kProfessors);
  std::vector<std::thread> threads;
  for (int i = 0; i < kProfessors; ++i) {
    threads.emplace_back([&, i] {
      Client c(stack().base_url(), Client::Cookies::kOff);
      c.set_bearer(profs[i].token);
      // Connect before the barrier, so the requests leave together.
      c.Get("/api/health");
      ready.arrive_and_wait();
      results[i] = Answer(c, q, "Answer from professor " + std::to_string(i));
    });
  }
  for (auto& t : threads) t.join();

  int won = 0;
  int lost = 0;
  int64_t winner = 0;
  for (int i = 0; i < kProfessors; ++i) {
    const Response& r = results[i];
    if (r.status == 201) {
      ++won;
      winner = profs[i].id;
    } else if (r.status == 409 && r.ErrorCode() == "already_answered") {
      ++lost;
    } else {
      ADD_FAILURE() << "professor " << i << ": " << r.Describe();
    }
  }
  EXPECT_EQ(won, 1);
  EXPECT_EQ(lost, kProfessors - 1);

  std::vector<Json> answers = OfKind(stud, room, "answer");
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0]["reply_to"].num(), q);
  EXPECT_EQ(answers[0]["user"]["id"].num(), winner);

  // And later it is still taken.
  Response late = Answer(*profs[0], q, "too late");
  EXPECT_EQ(late.status, 409) << late.Describe();
  EXPECT_EQ(late.ErrorCode(), "already_answered");
}

TEST_F(QaTest, AnswersPerProfessorLimitIsEnforced) {
  User owner = Register("owner");
  User prof2 = Register("prof");
  User stud = Register("stud");
  int64_t room = CreateRoom(owner, "classroom", "qa", ",\"answers_per_professor\":1");
  EXPECT_EQ(FindRoom(owner, room)["answers_per_professor"].num(), 1);
  Join(prof2, room);
  SetRole(owner, room, prof2, "professor");
  Join(stud, room);
  const int64_t q1 = Send(stud, room, "First question?")["id"].num();
  const int64_t q2 = Send(stud, room, "Second question?")["id"].num();

  ASSERT_EQ(Answer(*owner, q1, "first answer").status, 201);
  Response second = Answer(*owner, q2, "second answer");
  EXPECT_EQ(second.status, 409) << second.Describe();
  EXPECT_EQ(second.ErrorCode(), "answer_limit_reached");
  Response other = Answer(*prof2, q2, "another professor's answer");
  EXPECT_EQ(other.status, 201) << other.Describe();
  EXPECT_EQ(OfKind(stud, room, "answer").size(), 2u);

  // Default: unlimited.
  int64_t open = CreateRoom(owner, "open", "qa");
  EXPECT_TRUE(FindRoom(owner, open)["answers_per_professor"].is_null())
      << FindRoom(owner, open).Dump();
  Join(stud, open);
  for (int i = 0; i < 3; ++i) {
    const int64_t q = Send(stud, open, "q" + std::to_string(i))["id"].num();
    EXPECT_EQ(Answer(*owner, q, "a" + std::to_string(i)).status, 201);
  }
}

}  // namespace
}  // namespace parley::e2e
